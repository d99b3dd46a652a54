"""Static checks of the committed notebooks: nbval passes an unexecuted notebook silently, so this
rejects any notebook with a cell that was never run, an error output, or no verdict cell."""
import json
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
    assert "mode = \"quick\"" in source(tagged[0]), f"{path.name}: quick mode must be the default"
    injected = [c for c in code if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert all("mode = \"quick\"" in source(c) for c in injected), f"{path.name} was saved from a full-mode run"
    last = code[-1]
    assert source(last).startswith("# NBVAL_CHECK_OUTPUT") and "book.summary()" in source(last), \
        f"{path.name}: the last code cell must be the verdict table (# NBVAL_CHECK_OUTPUT, book.summary())"
    printed = "".join("".join(o.get("text", "")) for o in last.get("outputs", []))
    assert "reproduced" in printed, f"{path.name}: the verdict cell has no verdicts in its output"
    assert "not recorded" not in printed, f"{path.name}: a registered claim was never recorded"
