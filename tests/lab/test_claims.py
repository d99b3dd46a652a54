"""The claims test: every notebook's recorded claims hold (exact/stat reproduced, order as pinned).

By default it reads the committed ``results/``; ``FLOWLAB_CHECK_RESULTS`` points it at another folder
(``make test`` uses it for the fresh results nbval's re-execution writes).
"""
import json
import os
from pathlib import Path

import pytest

from flowlab.lab import manifest, registry, specs
from flowlab.lab.claims import ClaimBook
from flowlab.lab.params import notebook_params
from flowlab.lab.tables import problems
from flowlab.measure import decide, lower
from flowlab.measure.orders import OUTCOMES

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
    for spec in manifest.CLAIMS:
        assert spec.kind in specs.KINDS
        assert spec.statement and spec.source
        assert set(spec.pinned) <= {"quick", "full"}
        assert all(v in (*OUTCOMES, specs.LEGACY_NOT_REPRODUCED) or isinstance(v, specs.SeedDependent)
                   for v in spec.pinned.values())
        assert (spec.false_alarm is None) == (spec.kind != "stat"), spec.id
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
    spec = specs.ClaimSpec("C07", "02_coupling_flows", "order", "s", "src", {"quick": "reproduced"})
    monkeypatch.setattr(registry, "claims_for", lambda nb: [spec])
    data = {"provenance": {"mode": "quick"}, "claims": [
        {"id": "C07", "kind": "order", "verdict": "inconclusive at this scale",
         "checks": [{"passed": False, "outcome": "inconclusive at this scale"}]}]}
    assert any("pinned" in f for f in problems("02_coupling_flows", data))


def test_quick_results_carry_what_calibration_measured_and_stale_ones_are_caught(tmp_path, monkeypatch):
    """A stat claim's results carry its nominal rate and its measured failures, an order claim's its
    outcome counts per float path, exactly as the calibration record gives them; results without them
    (written before calibration) are a problem in quick mode."""
    from flowlab.lab import calibrate
    monkeypatch.setenv("FLOWLAB_RESULTS_DIR", str(tmp_path))
    book = ClaimBook("04_autoregressive_flows", notebook_params())
    stat = next(s for s in book.specs.values() if s.kind == "stat")
    book.check(stat.id, "z", measured=0.0, expected=0.0, tolerance=1.0, why="test")
    claim = next(c for c in json.loads(book.save().read_text())["claims"] if c["id"] == stat.id)
    failed, runs = calibrate.failure_rate(calibrate.load("quick"), stat.id)
    assert claim["false_alarm"] == stat.false_alarm
    assert claim["failures_over_seeds"] == {"failed": failed, "seeds": runs}
    stale = {k: v for k, v in claim.items() if k != "failures_over_seeds"}
    found = problems("04_autoregressive_flows", {"provenance": {"mode": "quick"}, "claims": [stale]})
    assert any(f.startswith(f"{stat.id} ") and "lacks failures_over_seeds" in f for f in found), found


def test_claim_book_rejects_unknown_and_misused_claims(tmp_path, monkeypatch):
    book = _book(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match="not registered for 01_change_of_variables"):
        book.check("C11", "x", measured=1, expected=1, tolerance=0, why="")
    with pytest.raises(ValueError, match="use book.check"):
        book.order("C01", "x", decide({"a": lower([1.0, 2.0], 3.0)}), expected="")


def test_check_rows_counts_every_value_and_names_the_rows_outside(tmp_path, monkeypatch, capsys):
    book = _book(tmp_path, monkeypatch)
    rows = {"a": {"z mean": [0.5, -1.0], "z var": 0.2}, "b": {"z mean": [2.9, 0.1], "z var": -3.5}}
    book.check_rows("C01", "z-scores per setup", rows=rows, checked=("z mean", "z var"), expected=0.0,
                    tolerance=3.0, why="test band")
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("✗ C01 z-scores per setup: 5/6 within 0 ± 3")
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


def test_a_seed_dependent_pin_accepts_any_outcome_and_shows_the_counts(monkeypatch):
    pin = specs.seed_dependent(reproduced=6, inconclusive=7)
    spec = specs.ClaimSpec("C07", "02_coupling_flows", "order", "s", "src", {"quick": pin})
    monkeypatch.setattr(registry, "claims_for", lambda nb: [spec])
    monkeypatch.setitem(manifest.BY_ID, "C07", spec)
    for outcome in OUTCOMES:
        data = {"provenance": {"mode": "quick"}, "claims": [
            {"id": "C07", "kind": "order", "verdict": outcome, "outcomes_over_seed_sets": {"native": {}},
             "checks": [{"passed": outcome == "reproduced", "outcome": outcome}]}]}
        assert problems("02_coupling_flows", data) == []
    assert str(pin) == "seed-dependent (inconclusive at this scale in 7, reproduced in 6 of 13 seed sets)"
    assert registry.shown_verdict("C07", "reproduced", "quick") == f"reproduced; {pin}"
    assert registry.shown_verdict("C07", "reproduced", "full") == "reproduced"
    with pytest.raises(AssertionError):
        specs.seed_dependent(reproduced=9, inconclusive=1)  # 9 of 10 agree: that is a pin, not seed-dependent


def test_order_verdicts_combine_the_checks_outcomes():
    def checks(*outcomes):
        return [{"passed": o == "reproduced", "outcome": o} for o in outcomes]
    assert registry.verdict("order", checks("reproduced", "reproduced")) == "reproduced"
    assert registry.verdict("order", checks("reproduced", "inconclusive at this scale")) == "inconclusive at this scale"
    assert registry.verdict("order", checks("inconclusive at this scale", "contradicted")) == "contradicted"
    # results recorded before the three-outcome rule keep their old verdicts
    assert registry.verdict("order", [{"passed": False}]) == specs.LEGACY_NOT_REPRODUCED


def test_book_order_records_the_decision_and_its_deciding_numbers(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLOWLAB_RESULTS_DIR", str(tmp_path))
    book = ClaimBook("02_coupling_flows", notebook_params())
    book.order("C07", "flow below the Gaussian", decide({"moons": lower([1.0, 1.3, 0.7], [1.05, 1.35, 0.75])}),
               expected="flow < Gaussian")
    out = capsys.readouterr().out
    assert out.startswith("○ C07 flow below the Gaussian — inconclusive at this scale")
    entry = book.records["C07"]["checks"][0]
    assert entry["outcome"] == "inconclusive at this scale" and entry["measured"]["moons"]["claimed"] == "Δ < 0"
    assert book.verdict("C07") == "inconclusive at this scale"
    from flowlab.lab import report
    assert report.key_result(book.records["C07"]).startswith(
        "inconclusive at this scale: moons Δ -0.05, 90% interval [")
    with pytest.raises(TypeError, match="OrderDecision"):
        book.order("C07", "x", True, expected="")


def test_summary_prints_a_seed_dependent_claims_counts_not_this_runs_outcome(tmp_path, monkeypatch, capsys):
    pin = specs.seed_dependent(reproduced=5, contradicted=1, inconclusive=4)
    spec = specs.ClaimSpec("C07", "02_coupling_flows", "order", "s", "src", {"quick": pin})
    monkeypatch.setitem(manifest.BY_ID, "C07", spec)
    monkeypatch.setenv("FLOWLAB_RESULTS_DIR", str(tmp_path))
    outs = []
    for runs in ([1.0, 1.1, 0.9], [5.0, 5.1, 4.9]):
        book = ClaimBook("02_coupling_flows", notebook_params())
        book.order("C07", "x", decide({"a": lower(runs, 3.0)}), expected="")
        capsys.readouterr()
        book.summary()
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]  # reproduced in one run, contradicted in the other: the same summary
    assert f"C07  order   {pin}" in outs[0] and "(1 seed-dependent, not counted)" in outs[0]




ORDER_CLAIMS = [c for c in manifest.CLAIMS if c.kind == "order"]


@pytest.mark.parametrize("spec", ORDER_CLAIMS, ids=[c.id for c in ORDER_CLAIMS])
def test_quick_pins_are_what_the_calibration_measured(spec):
    """Every order claim's quick-mode pin is the one its calibration record implies: an outcome that at
    least 9 in 10 of at least 10 seed sets gave, over both float paths, else seed-dependent with those counts."""
    from flowlab.lab import calibrate
    records = calibrate.load("quick")
    counts = calibrate.outcome_counts(records, spec.id)
    assert sum(counts.values()) >= 10, f"{spec.id}: only {sum(counts.values())} seed sets calibrated"
    for path in ("native", "default"):
        assert calibrate.outcome_counts(records, spec.id, path), f"{spec.id}: no {path}-path calibration run"
    assert spec.pinned.get("quick") == calibrate.implied_pin(counts), (spec.id, counts)


STAT_CLAIMS = [c for c in manifest.CLAIMS if c.kind == "stat"]


@pytest.mark.parametrize("spec", STAT_CLAIMS, ids=[c.id for c in STAT_CLAIMS])
def test_stat_claims_carry_a_nominal_and_a_measured_rate(spec):
    from flowlab.lab import calibrate
    failed, runs = calibrate.failure_rate(calibrate.load("quick"), spec.id)
    assert runs >= 5, f"{spec.id}: failure rate measured over {runs} seeded runs"
    text = registry.rate_text(spec.id, failed, runs)
    assert f"failed in {failed} of {runs} seeded runs" in text
    if isinstance(spec.false_alarm, float):
        assert text.startswith("nominal false-alarm rate")
        # a correct method's failures over the seeds are Binomial(runs, rate): far more flags a real problem
        from scipy import stats
        assert failed <= stats.binom.ppf(0.999, runs, spec.false_alarm), (spec.id, failed, runs)


def test_expected_values_read_as_what_they_are():
    from flowlab.lab.report import bracket, check_line

    assert bracket(0.5, 1e-12) == "[0.5 ± 1e-12]"
    assert bracket("> 0", 0.00697) == "[> 0, margin 0.007]" and bracket("Var_R < Var_G", 0.0) == "[Var_R < Var_G]"
    assert bracket([1, 1, 1, 1, 1, 1], 0) == "[= [1, 1, 1, …, 1]]"
    grows = {"0.5": False, "1.0": False, "2.1": True, "2.5": True}
    assert bracket(grows, 0.0) == "[= {0.5: False, 1.0: False, …, 2.5: True}]"
    assert bracket(4, None) == "[4]"
    long_name = "a check whose name is much longer than any terminal line of a hundred characters, kept whole"
    assert long_name in check_line(True, "C01", long_name, 0.1, 0.0, 1.0)
