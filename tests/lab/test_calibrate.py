"""Calibration on a throw-away repository: seed specs, the counting and pin rule, resuming, failures
recorded (and retried only when asked), the float path reaching the kernel, references untouched."""
import json

import pytest

from flowlab.lab import calibrate, specs
from tests.lab.conftest import write_notebook

NOTEBOOK_CODE = [
    ("parameters", 'mode = "quick"\nseed = 0'),
    (None, "import json, os, pathlib\n"  # no torch, no flowlab: a kernel that starts fast
           "results, figures = (pathlib.Path(os.environ[v]) for v in ('FLOWLAB_RESULTS_DIR', 'FLOWLAB_FIGURES_DIR'))\n"
           "figures.mkdir(parents=True); (figures / '01_demo.png').write_bytes(b'png')\n"
           "if seed == 2:\n    raise ValueError('boom on seed 2\\nsecond line')\n"
           "cap = os.environ.get('ATEN_CPU_CAPABILITY', 'native')\n"
           "outcome = 'reproduced' if seed % 2 == 0 else 'inconclusive at this scale'\n"
           "claims = [{'id': 'C90', 'kind': 'order', 'verdict': outcome, 'checks': [{'passed': seed % 2 == 0, "
           "'outcome': outcome}]}, {'id': 'C91', 'kind': 'stat', 'verdict': 'reproduced', 'checks': []}]\n"
           "results.mkdir(parents=True)\n"
           "(results / '01_demo.json').write_text(json.dumps({'notebook': '01_demo', 'claims': claims, "
           "'provenance': {'mode': mode, 'seed': seed, 'threads': int(os.environ.get('OMP_NUM_THREADS', '0')), "
           "'cpu': {'torch_capability': 'seen ' + cap}}}))"),
]


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository with one notebook and committed references that calibration must not touch."""
    root = tmp_path / "repo"
    for d in ("notebooks", "results", "figures"):
        (root / d).mkdir(parents=True)
    write_notebook(root / "notebooks" / "01_demo.ipynb", NOTEBOOK_CODE)
    (root / "results" / "01_demo.json").write_text('{"committed": true}\n')
    (root / "figures" / "01_demo.png").write_bytes(b"committed png")
    monkeypatch.setenv("FLOWLAB_ROOT", str(root))
    monkeypatch.setenv("CI", "1")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # a developer's own thread setting would leak into the runs
        monkeypatch.delenv(name, raising=False)
    return root


def snapshot(root):
    return {p.relative_to(root): p.read_bytes() for d in ("notebooks", "results", "figures")
            for p in (root / d).rglob("*") if p.is_file()}


def test_seed_specs_and_their_errors():
    assert calibrate.parse_seeds("0-9") == list(range(10))
    assert calibrate.parse_seeds("0,3,5") == [0, 3, 5]
    assert calibrate.parse_seeds("10-12") == [10, 11, 12]
    assert calibrate.parse_seeds("5, 0-2,2") == [0, 1, 2, 5]
    for bad, why in [("a-b", "'a-b' is not a seed"), ("9-0", "runs backwards"), ("", "expected a range like 0-9"),
                     ("-1", "integers >= 0"), ("1,,2", "is not a seed")]:
        with pytest.raises(SystemExit, match=why):
            calibrate.parse_seeds(bad)
    assert calibrate.parse_float_paths("default") == ["default"]
    with pytest.raises(SystemExit, match="unknown float path 'avx2'; expected one of native, default"):
        calibrate.parse_float_paths("avx2")


def test_notebook_selection_errors(repo, capsys):
    nbs = repo / "notebooks"
    assert [p.stem for p in calibrate.select_notebooks("01", nbs)] == ["01_demo"]
    with pytest.raises(SystemExit, match="no notebook numbered 07 .*available: 01"):
        calibrate.select_notebooks("07", nbs)
    with pytest.raises(SystemExit, match="'1' is not a notebook number; expected two-digit numbers"):
        calibrate.select_notebooks("1", nbs)
    with pytest.raises(SystemExit):
        calibrate.main(["--mode", "fast", "--nb", "01"], notebook_dir=nbs)
    assert "unknown mode 'fast'; expected one of ('quick', 'full')" in capsys.readouterr().err
    assert calibrate.select_notebooks(None, nbs) == []  # 01_demo has no registered order claim


def runs(**counts):
    return [{"status": "ok", "float_path": "native" if i % 2 else "default", "notebook": "x", "seed": i,
             "claims": {"C19": {"kind": "order", "verdict": v}, "C18": {"kind": "stat", "verdict": v}}}
            for i, v in enumerate(v for v, n in counts.items() for _ in range(n))]


def test_counts_and_the_pins_they_imply():
    nine = runs(reproduced=9, contradicted=1)
    assert calibrate.outcome_counts(nine, "C19") == {"reproduced": 9, "contradicted": 1}
    assert calibrate.outcome_counts(nine, "C19", "native") == {"reproduced": 4, "contradicted": 1}
    assert calibrate.implied_pin(calibrate.outcome_counts(nine, "C19")) == "reproduced"
    eight = calibrate.outcome_counts(runs(reproduced=8, **{"inconclusive at this scale": 2}), "C19")
    pin = calibrate.implied_pin(eight)
    assert isinstance(pin, specs.SeedDependent) and pin.runs == 10
    assert pin == specs.seed_dependent(reproduced=8, inconclusive=2), "must equal the registry's own pin"
    assert calibrate.implied_pin({"reproduced": 5}) == calibrate.NOT_ENOUGH
    assert calibrate.failure_rate(nine, "C18") == (1, 10)
    failed = {"status": "failed", "notebook": "x", "seed": 99, "float_path": "native", "error": "boom", "claims": {}}
    lines = calibrate.report({"mode": "quick", "runs": nine + [failed]})
    assert any(ln.startswith("C19 order  native 4/5 reproduced, 1/5 contradicted; default 5/5 reproduced")
               and "pinnable: 'reproduced' (9/10)" in ln for ln in lines), lines
    assert "C18 stat   failed in 1 of 10 runs" in lines
    assert "failed run: x seed 99 native: boom" in lines
    assert any("not enough runs (5 of 10)" in ln for ln in calibrate.report(runs(reproduced=5)))


def test_resumes_records_failures_and_leaves_the_references_alone(repo, capsys):
    before = snapshot(repo)
    record = repo / "results" / "calibration" / "quick.json"
    nbs = repo / "notebooks"
    assert calibrate.main(["--nb", "01", "--seeds", "0-2", "--jobs", "2"], notebook_dir=nbs) == 1
    data = calibrate.load("quick")
    assert [(r["seed"], r["status"]) for r in data["runs"]] == [(0, "ok"), (1, "ok"), (2, "failed")]
    ok, failed = data["runs"][0], data["runs"][2]
    assert ok["claims"]["C90"] == {"kind": "order", "verdict": "reproduced", "outcomes": ["reproduced"]}
    assert ok["threads"] == 1 and ok["cpu_capability"] == "seen native" and ok["seconds"] > 0
    assert failed["error"] == "cell 2 raised ValueError: boom on seed 2" and failed["cpu_capability"]
    out = capsys.readouterr().out
    assert "01_demo  seed 1  native" in out and "C90 inconclusive" in out and "FAILED: cell 2 raised" in out
    executed = repo / "build" / "calibration" / "quick" / "native" / "01_demo" / "seed-1"
    assert (executed / "01_demo.ipynb").is_file() and (executed / "results" / "01_demo.json").is_file()

    written = record.read_bytes()
    assert calibrate.main(["--nb", "01", "--seeds", "0-2"], notebook_dir=nbs) == 0
    assert "0 run(s) to do, 3 already recorded" in capsys.readouterr().out
    assert record.read_bytes() == written, "nothing ran, nothing is rewritten"
    assert calibrate.main(["--nb", "01", "--seeds", "2", "--retry-failed"], notebook_dir=nbs) == 1
    assert "1 run(s) to do, 0 already recorded" in capsys.readouterr().out
    assert calibrate.main(["--nb", "01", "--seeds", "0", "--float-path", "default"], notebook_dir=nbs) == 0
    data = calibrate.load("quick")
    assert len(data["runs"]) == 4
    default = [r for r in data["runs"] if r["float_path"] == "default"]
    assert default[0]["cpu_capability"] == "seen default", "the default float path must reach the kernel"
    assert default[0]["threads"] == 0, "one job: the kernel keeps its threads"
    assert calibrate.main(["--report"]) == 0
    assert "C90 order  native 1/2 reproduced, 1/2 inconclusive; default 1/1 reproduced" in capsys.readouterr().out

    after = snapshot(repo)
    added = sorted(str(p) for p in set(after) - set(before))
    assert added == ["results/calibration/quick.json"]
    assert all(after[p] == before[p] for p in before), "committed references must stay byte-identical"


def test_the_record_path_is_overridable_and_mode_checked(repo, tmp_path):
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps({"mode": "full", "runs": []}))
    with pytest.raises(SystemExit, match="records 'full' mode, not 'quick'"):
        calibrate.main(["--nb", "01", "--seeds", "0", "--record", str(other)], notebook_dir=repo / "notebooks")


@pytest.mark.parametrize("mode, given, expected", [("quick", None, 1800), ("full", None, None), ("full", 60, 60)])
def test_each_mode_gives_its_cells_its_own_time_limit_unless_one_is_given(repo, monkeypatch, mode, given, expected):
    seen, real_run_one = [], calibrate.run_one

    def run_one(*args):
        seen.append(args[-1])  # the cell time limit the kernel is started with
        return real_run_one(*args)

    monkeypatch.setattr(calibrate, "run_one", run_one)
    nb = repo / "notebooks" / "01_demo.ipynb"
    calibrate.calibrate([nb], [0], mode=mode, cell_timeout=given, record=repo / "results" / f"{mode}-cal.json")
    assert seen == [expected]
    cli = [] if given is None else ["--cell-timeout", str(given)]
    calibrate.main(["--nb", "01", "--seeds", "1", "--mode", mode, "--record", str(repo / "cli.json"), *cli],
                   notebook_dir=repo / "notebooks")
    assert seen == [expected, expected]
