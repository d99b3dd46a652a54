"""The manifest is the one place a notebook is declared, and each notebook agrees with its entry.

Adding a notebook is adding its manifest entry and writing the notebook: the status table, the book's
sections and table of contents, the dependency order and the claim tables all read the manifest, and
no other library module names a notebook.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from flowlab.lab import book, manifest, specs, tables
from flowlab.lab.params import COMMON, PARAMETERS_TAG

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_FILES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.stem for p in NOTEBOOK_FILES]


def cells(name: str, kind: str) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def quoted_statement(markdown: str, claim_id: str) -> str | None:
    """The text of the quote ``> **C04** ...`` up to its first blank quote line, unescaped."""
    m = re.search(rf"^> \*\*{claim_id}\*\* (.*(?:\n> ?\S.*)*)", markdown, re.M)
    if not m:
        return None
    text = " ".join(line.removeprefix("> ").strip() for line in m.group(1).splitlines())
    return re.sub(r"\\([*_|\\])", r"\1", text)


def test_ids_and_names_are_unique_and_every_kind_is_known():
    assert len(manifest.BY_ID) == len(manifest.CLAIMS) and len(manifest.BY_NAME) == len(manifest.NOTEBOOKS)
    assert {c.kind for c in manifest.CLAIMS} <= set(specs.KINDS)


def test_every_notebook_has_an_entry_and_every_entry_a_notebook():
    assert NAMES == [nb.name for nb in manifest.NOTEBOOKS], "the manifest lists the notebooks, in order"


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_quotes_each_claim_as_the_manifest_states_it(name):
    markdown = "\n\n".join(cells(name, "markdown"))
    for claim in manifest.BY_NAME[name].claims:
        quoted = quoted_statement(markdown, claim.id)
        assert quoted is not None, f"{name} does not quote {claim.id} as `> **{claim.id}** <statement>`"
        assert quoted.startswith(claim.statement), (
            f"{name} quotes {claim.id} as\n  {quoted[:len(claim.statement) + 20]!r}\nbut the manifest states\n"
            f"  {claim.statement!r}")


@pytest.mark.parametrize("name", NAMES)
def test_the_parameters_cell_declares_the_manifest_parameters_and_setup_passes_them(name):
    spec = manifest.BY_NAME[name]
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"] if PARAMETERS_TAG in c.get("metadata", {}).get("tags", []))
    declared = {}
    for node in ast.parse(cell).body:
        if isinstance(node, ast.AnnAssign):
            declared[node.target.id] = ast.literal_eval(node.value)
    assert list(declared) == [*COMMON, *spec.params], f"{name}'s parameters cell and its manifest entry differ"
    assert all(declared[k] is None for k in spec.params), f"{name}: defaults live in the manifest; declare None"
    code = "\n".join(cells(name, "code"))
    calls = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"]
    assert len(calls) == 1 and ast.literal_eval(calls[0].args[0]) == name
    assert {k.arg: k.value.id for k in calls[0].keywords} == {k: k for k in declared}, \
        f"{name}: setup(...) must pass every declared parameter as name=name"
    # one declaration of each default: no `p.steps or p.pick(...)` fallback in the notebook
    fallbacks = re.findall(rf"p\.({'|'.join(spec.params) or '$^'}) or\b", code)
    assert not fallbacks, f"{name} re-declares defaults for {fallbacks}; they come from the manifest"


def test_dependencies_are_notebooks_run_earlier():
    order = [nb.name for nb in manifest.NOTEBOOKS]
    for name, deps in manifest.DEPENDS_ON.items():
        for dep in deps:
            assert dep in order and order.index(dep) < order.index(name), (name, dep)
    readers = {name for name in NAMES if "results_of(" in "\n".join(cells(name, "code"))}
    assert readers == set(manifest.DEPENDS_ON), "a notebook reading another's results declares it in depends_on"


def test_the_book_and_the_status_table_list_what_the_manifest_lists():
    titles = {name: name for name in NAMES}
    toc = book.toc(titles)
    assert [line.split("notebooks/")[1] for line in toc.splitlines() if "file: notebooks/" in line] == NAMES
    for section, notebooks in manifest.SECTIONS:
        assert f'caption: "{section}"' in toc and notebooks
    rows = [line for line in tables.status_table(ROOT).splitlines()[2:]]
    assert [re.search(r"\[(\w+)\]", r).group(1) for r in rows] == NAMES


def test_the_status_table_shows_the_training_behind_a_full_run_that_loaded_it(tmp_path):
    """A full-mode notebook that loads its finished checkpoints or a committed reference runs in minutes; the
    row must say what its training cost (``Book.trained``), or a reader plans a 3-hour claim around half a
    minute."""
    name = manifest.NOTEBOOKS[2].name
    (tmp_path / "results" / "full").mkdir(parents=True)
    (tmp_path / "results" / "full" / "runs.json").write_text(json.dumps({name: {"seconds": 24, "cpus": 2}}))
    row = next(r for r in tables.status_table(tmp_path).splitlines() if f"[{name}]" in r)
    assert row.endswith("| 0.4 min (2 CPUs) |")
    results = tmp_path / "results" / "full" / f"{name}.json"
    results.write_text(json.dumps({"notebook": name, "claims": []}))
    row = next(r for r in tables.status_table(tmp_path).splitlines() if f"[{name}]" in r)
    assert row.endswith("| 0.4 min (2 CPUs) |"), "results without a training record add nothing"
    results.write_text(json.dumps({"notebook": name, "claims": [], "training": {"seconds": 11880.0, "device": "cpu"}}))
    row = next(r for r in tables.status_table(tmp_path).splitlines() if f"[{name}]" in r)
    assert row.endswith("| 0.4 min (2 CPUs); its training 3.3 h (cpu) |")


def test_no_other_library_module_names_a_notebook():
    """A string that is exactly a notebook's name, outside docstrings (examples there are prose)."""
    lib = ROOT / "lib" / "flowlab"
    found = []
    for path in sorted(lib.rglob("*.py")):
        if path.name == "manifest.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        found += [f"{path.relative_to(lib)}:{n.lineno}: {n.value}" for n in ast.walk(tree)
                  if isinstance(n, ast.Constant) and n.value in NAMES and id(n) not in docstrings]
    assert not found, "notebooks named outside the manifest (add to the manifest instead):\n" + "\n".join(found)
