"""The claims test: every notebook's recorded claims hold (exact/stat reproduced, order as pinned).

By default it reads the committed ``results/``; ``FLOWLAB_CHECK_RESULTS`` points it at another folder
(``make test`` uses it for the fresh results nbval's re-execution writes).
"""
import json
import os
from pathlib import Path

import pytest

from flowlab.lab import ClaimBook, notebook_params, registry
from flowlab.lab.tables import problems

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("FLOWLAB_CHECK_RESULTS", ROOT / "results"))
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_claims_hold(notebook):
    path = RESULTS / f"{notebook}.json"
    assert path.is_file(), f"{path} is missing: run `make reproduce NB={notebook[:2]}`"
    data = json.loads(path.read_text())
    assert data["notebook"] == notebook
    assert data["provenance"]["mode"] == "quick"
    found = problems(notebook, data)
    assert not found, "\n".join(found)


FULL = sorted((ROOT / "results" / "full").glob("[0-9][0-9]_*.json"))


@pytest.mark.parametrize("path", FULL, ids=[p.stem for p in FULL])
def test_committed_full_mode_results_hold(path):
    """Full-mode reference runs (committed under results/full/) hold as their full-mode pins say."""
    data = json.loads(path.read_text())
    assert data["notebook"] == path.stem and data["provenance"]["mode"] == "full"
    found = problems(path.stem, data)
    assert not found, "\n".join(found)


def test_every_notebook_has_registered_claims():
    for notebook in NOTEBOOKS:
        assert registry.claims_for(notebook), f"{notebook} has no claims in flowlab.lab.registry"


def test_registry_is_well_formed():
    for spec in registry.CLAIMS:
        assert spec.kind in registry.KINDS
        assert spec.statement and spec.source
        assert set(spec.pinned) <= {"quick", "full"}
        assert all(v in ("reproduced", "not reproduced at this scale", registry.SEED_DEPENDENT)
                   for v in spec.pinned.values())
        assert not spec.pinned or spec.kind == "order"


def _book(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWLAB_RESULTS_DIR", str(tmp_path))
    return ClaimBook("01_change_of_variables", notebook_params())


def test_problems_catch_a_failed_exact_claim(tmp_path, monkeypatch):
    book = _book(tmp_path, monkeypatch)
    book.check("C01", "mass", measured=1.01, expected=1.0, tolerance=1e-6, why="test")
    book.check("C02", "ok", measured=0.0, expected=0.0, tolerance=0.0, why="test")
    data = json.loads(book.save().read_text())
    found = problems("01_change_of_variables", data)
    assert any(f.startswith("C01") and "failed" in f for f in found)
    assert any(f.startswith("C03") and "never recorded" in f for f in found)
    assert not any(f.startswith("C02") for f in found)


def test_problems_catch_an_order_verdict_that_differs_from_its_pin(monkeypatch):
    spec = registry.ClaimSpec("C07", "02_coupling_flows", "order", "s", "src", {"quick": "reproduced"})
    monkeypatch.setattr(registry, "claims_for", lambda nb: [spec])
    data = {"provenance": {"mode": "quick"}, "claims": [
        {"id": "C07", "kind": "order", "verdict": "not reproduced at this scale", "checks": [{"passed": False}]}]}
    assert any("pinned" in f for f in problems("02_coupling_flows", data))


def test_claim_book_rejects_unknown_and_misused_claims(tmp_path, monkeypatch):
    book = _book(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match="not registered for 01_change_of_variables"):
        book.check("C11", "x", measured=1, expected=1, tolerance=0, why="")
    with pytest.raises(ValueError, match="use book.check"):
        book.order("C01", "x", holds=True, measured=1, expected="")


def test_check_rows_counts_every_value_and_names_the_rows_outside(tmp_path, monkeypatch, capsys):
    book = _book(tmp_path, monkeypatch)
    rows = {"a": {"z mean": [0.5, -1.0], "z var": 0.2}, "b": {"z mean": [2.9, 0.1], "z var": -3.5}}
    book.check_rows("C01", "z-scores per setup", rows=rows, checked=("z mean", "z var"), expected=0.0,
                    tolerance=3.0, why="test band")
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("✗ C01 z-scores per setup: 5/6 within 0 ± 3") and len(first) <= 100
    assert "outside: b" in out
    entry = book.records["C01"]["checks"][0]
    assert entry["passed"] is False and entry["measured"] == -3.5 and entry["failed_rows"] == ["b"]
    assert book.verdict("C01") == "failed"
    from flowlab.lab import report
    assert report.failed_parts(book.records["C01"]) == ["z-scores per setup (b)"]
    book.check_rows("C02", "all inside", rows={"x": {"z": 1.0}, "y": {"z": -1.0}}, checked=("z",),
                    expected=0.0, tolerance=1.0, why="edge counts as inside")
    assert book.verdict("C02") == "reproduced"
    assert report.key_result(book.records["C02"]) == "2/2 within [0 ± 1]"


def test_check_rows_rejects_malformed_rows(tmp_path, monkeypatch):
    book = _book(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match="non-empty dict"):
        book.check_rows("C01", "x", rows={}, checked=("z",), expected=0, tolerance=1, why="")
    with pytest.raises(ValueError, match="missing"):
        book.check_rows("C01", "x", rows={"a": {"y": 1}}, checked=("z",), expected=0, tolerance=1, why="")


def test_provenance_records_the_code_as_it_was_when_the_book_opened(tmp_path, monkeypatch):
    from flowlab.lab import provenance
    monkeypatch.setattr(provenance, "_START", None)
    monkeypatch.setattr(provenance, "library_digest", lambda root=None: "digest-at-start")
    book = _book(tmp_path, monkeypatch)
    monkeypatch.setattr(provenance, "library_digest", lambda root=None: "edited-during-the-run")
    book.check("C01", "mass", measured=1.0, expected=1.0, tolerance=0.0, why="test")
    assert json.loads(book.save().read_text())["provenance"]["library_digest"] == "digest-at-start"


def test_a_seed_dependent_pin_accepts_either_verdict_and_says_so(monkeypatch):
    spec = registry.ClaimSpec("C07", "02_coupling_flows", "order", "s", "src", {"quick": registry.SEED_DEPENDENT})
    monkeypatch.setattr(registry, "claims_for", lambda nb: [spec])
    monkeypatch.setitem(registry.BY_ID, "C07", spec)
    for verdict, passed in (("reproduced", True), ("not reproduced at this scale", False)):
        data = {"provenance": {"mode": "quick"}, "claims": [
            {"id": "C07", "kind": "order", "verdict": verdict, "checks": [{"passed": passed}]}]}
        assert problems("02_coupling_flows", data) == []
    assert registry.shown_verdict("C07", "reproduced", "quick") == "reproduced (seed-dependent)"
    assert registry.shown_verdict("C07", "reproduced", "full") == "reproduced"
