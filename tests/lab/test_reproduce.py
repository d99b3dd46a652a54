"""The papermill driver on a throw-away repository: outputs move into place only on success, a
failure names its cell and keeps the previous outputs, and an unchanged notebook is not re-run."""
import json

import nbformat
import pytest

from flowlab.lab import reproduce

NOTEBOOK_CODE = [
    ("parameters", 'mode = "quick"\nseed = 0\nfail = 0'),
    (None, "import json, os\n"
           "from flowlab.files import write_json_atomic\nfrom flowlab.lab import figures_dir, results_dir\n"
           "(figures_dir(mode) / f'01_demo_{fail}.png').write_bytes(b'png')\n"
           "assert fail in (0, 1), 'fail must be 0 or 1'"),
    (None, "if fail:\n    raise ValueError('boom on purpose')"),
    (None, "write_json_atomic(results_dir(mode) / '01_demo.json', {'notebook': '01_demo', "
           "'provenance': {'mode': mode}, 'claims': [], 'seed': seed})"),
]


@pytest.fixture
def repo(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for tag, code in NOTEBOOK_CODE:
        cell = nbformat.v4.new_code_cell(code)
        if tag:
            cell.metadata["tags"] = [tag]
        nb.cells.append(cell)
    nbformat.write(nb, tmp_path / "notebooks" / "01_demo.ipynb")
    monkeypatch.setenv("FLOWLAB_ROOT", str(tmp_path))
    return tmp_path


def test_success_skip_and_failure_keep_previous_outputs(repo, capsys):
    assert reproduce.main(["--nb", "01"]) == 0
    results = repo / "results" / "01_demo.json"
    assert json.loads(results.read_text())["seed"] == 0
    assert (repo / "figures" / "01_demo_0.png").is_file()
    executed = json.loads((repo / "notebooks" / "01_demo.ipynb").read_text())
    assert all(c["execution_count"] for c in executed["cells"] if c["cell_type"] == "code")

    capsys.readouterr()
    assert reproduce.main(["--nb", "01"]) == 0
    assert "[up to date] 01_demo" in capsys.readouterr().out

    before = results.read_text()
    assert reproduce.main(["--nb", "01", "-p", "fail=1", "-p", "seed=5"]) == 1
    out = capsys.readouterr().out
    assert "[FAILED]" in out and "ValueError: boom on purpose" in out and "cell" in out
    assert results.read_text() == before, "a failed run must leave the previous results untouched"
    assert not (repo / "figures" / "01_demo_1.png").exists(), "a failed run must not publish figures"


def test_bad_invocations_are_explained(repo):
    with pytest.raises(SystemExit, match="01_demo has no parameter steps; it takes mode, seed, fail"):
        reproduce.main(["--nb", "01", "-p", "steps=3"])
    with pytest.raises(SystemExit, match="no notebook matches NB='07'"):
        reproduce.main(["--nb", "07"])
    with pytest.raises(SystemExit):
        reproduce.main(["--mode", "fast"])


def test_forced_rerun_rewrites_only_the_run_times(repo):
    assert reproduce.main(["--nb", "01"]) == 0
    tracked = ("results", "figures", "notebooks")
    before = {p: p.read_bytes() for d in tracked for p in (repo / d).rglob("*") if p.is_file()}
    runs = json.loads((repo / "results" / reproduce.RUNS_FILE).read_text())
    assert runs["01_demo"]["seconds"] > 0 and runs["01_demo"]["cpus"] >= 1
    assert reproduce.main(["--nb", "01", "--force"]) == 0
    after = {p: p.read_bytes() for d in tracked for p in (repo / d).rglob("*") if p.is_file()}
    assert set(after) == set(before)
    changed = sorted(str(p.relative_to(repo)) for p in before if before[p] != after[p])
    assert changed in ([], ["results/runs.json"]), changed


def test_full_mode_claims_page_shows_how_long_each_notebook_took(repo):
    assert reproduce.main(["--nb", "01", "--mode", "full"]) == 0
    assert (repo / "results" / "full" / reproduce.RUNS_FILE).is_file()
    assert "Run times: 01_demo " in (repo / "results" / "full" / "CLAIMS.md").read_text()
    assert not (repo / "results" / reproduce.RUNS_FILE).exists()
