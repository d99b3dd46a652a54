"""Static checks of the committed notebooks: nbval passes an unexecuted notebook silently, so this
rejects any notebook with a cell that was never run, an error output, or no verdict cell."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_executed_and_well_formed(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    never_run = [i for i, c in enumerate(code) if c.get("execution_count") is None]
    assert not never_run, f"{path.name}: code cells {never_run} were never executed; run `make reproduce`"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} was saved with an error output: {errors[0].get('ename')}"
    assert [c.get("execution_count") for c in code] == list(range(1, len(code) + 1)), \
        f"{path.name}: cells were executed out of order"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assert re.search(r'^mode(: str)? = "quick"', source(tagged[0]), re.M), \
        f"{path.name}: quick mode must be the default"
    injected = [c for c in code if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert not injected, (f"{path.name} keeps papermill's injected-parameters cell: run top to bottom it would "
                          "override the parameters cell (the driver strips it; re-run `make reproduce`)")
    last = code[-1]
    assert source(last).startswith("# NBVAL_CHECK_OUTPUT") and "book.summary()" in source(last), \
        f"{path.name}: the last code cell must be the verdict table (# NBVAL_CHECK_OUTPUT, book.summary())"
    printed = "".join("".join(o.get("text", "")) for o in last.get("outputs", []))
    assert "reproduced" in printed, f"{path.name}: the verdict cell has no verdicts in its output"
    assert "not recorded" not in printed, f"{path.name}: a registered claim was never recorded"


def _text_outputs(cell) -> str:
    out = []
    for o in cell.get("outputs", []):
        out.append("".join(o.get("text", "")))
        out.append("".join(o.get("data", {}).get("text/plain", "")))
    return "".join(out)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_reads_well(path):
    """One line per check (whole: the book and terminals wrap it), checks return nothing, a closing table."""
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    lines = [line for c in code for line in _text_outputs(c).splitlines() if line[:1] in ("✓", "✗")]
    assert lines, f"{path.name} prints no check lines"
    stray = [c["execution_count"] for c in code for o in c.get("outputs", [])
             if o.get("output_type") == "execute_result" and o.get("data", {}).get("text/plain") in ("True", "False")]
    assert not stray, f"{path.name}: cells {stray} show a stray True/False (book.check returns nothing)"
    assert any("book.report()" in source(c) for c in code), f"{path.name} has no closing claim table (book.report())"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_are_typed_and_documented(path):
    """papermill --help-notebook shows a type and a help line for every parameter."""
    done = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Unknown type" not in done.stdout, f"{path.name}: untyped parameters:\n{done.stdout}"
    params = re.findall(r"^  (\w+): ", done.stdout, re.M)
    assert "mode" in params and "seed" in params, done.stdout
    helpless = [p for p in params if re.search(rf"^  {p}: [^\n]*\n(?!\s{{10,}}\S)", done.stdout + "\n", re.M)
                and not re.search(rf"^  {p}: \S+ \(default [^)]*\)\s+\S", done.stdout, re.M)]
    assert not helpless, f"{path.name}: parameters without a help line: {helpless}"


def test_full_mode_in_the_parameters_cell_runs_full_mode(tmp_path):
    """A reader who sets mode = "full" in the parameters cell and runs top to bottom gets full mode."""
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    path = ROOT / "notebooks" / "10_resnet_as_euler.ipynb"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = next(c for c in code if "parameters" in c.metadata.get("tags", []))
    params.source = re.sub(r'^mode(: str)? = "quick"', 'mode: str = "full"', params.source, flags=re.M)
    setup_cell = next(c for c in code if "setup(" in c.source)
    keep = nb.cells[: nb.cells.index(setup_cell) + 1]  # run only up to the setup: cheap, and enough
    keep.append(nbformat.v4.new_code_cell('assert p.mode == "full", p.mode\nprint("mode:", p.mode)'))
    nb.cells = keep
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT / "notebooks")}})
    client.execute()
    assert "mode: full" in "".join(o.get("text", "") for o in nb.cells[-1].outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_ends_with_takeaways_references_and_exercises(path):
    """After its verdicts a notebook closes like a chapter: what to take away, the papers behind its
    claims, and one to three exercises."""
    cells = json.loads(path.read_text())["cells"]
    headings = [c["source"][0].strip() if c["source"] else "" for c in cells if c["cell_type"] == "markdown"]
    assert headings[-3:] == ["## What to take away", "## References", "## Exercises"], headings[-3:]
    exercises = "".join(cells[-1]["source"])
    assert 1 <= len(re.findall(r"^\d+\. ", exercises, flags=re.M)) <= 3, exercises[:200]
