"""The papermill driver on a throw-away repository: outputs move into place only on success, a
failure names its cell and keeps the previous outputs, an unchanged notebook is not re-run (in a fresh
clone either), and non-default parameters write under build/interactive/, never over the references."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from flowlab.lab import provenance, reproduce, tables
from tests.lab.conftest import write_notebook

NOTEBOOK_CODE = [
    ("parameters", 'mode = "quick"\nseed = 0\nfail = 0'),
    (None, "import json, os\n"
           "from flowlab.files import write_json_atomic\nfrom flowlab.lab.outputs import figures_dir, results_dir\n"
           "(figures_dir(mode) / f'01_demo_{fail}.png').write_bytes(b'png')\n"
           "assert fail in (0, 1), 'fail must be 0 or 1'"),
    (None, "if fail:\n    raise ValueError('boom on purpose')"),
    (None, "write_json_atomic(results_dir(mode) / '01_demo.json', {'notebook': '01_demo', "
           "'provenance': {'mode': mode}, 'claims': [], 'seed': seed})"),
]


@pytest.fixture
def repo(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    write_notebook(tmp_path / "notebooks" / "01_demo.ipynb", NOTEBOOK_CODE)
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


def test_a_cell_past_its_time_limit_fails_and_says_how_to_give_it_longer(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    write_notebook(tmp_path / "notebooks" / "01_slow.ipynb",
                   [("parameters", 'mode = "quick"\nseed = 0'), (None, "import time\ntime.sleep(30)")])
    monkeypatch.setenv("FLOWLAB_ROOT", str(tmp_path))
    assert reproduce.main(["--nb", "01", "--cell-timeout", "2"]) == 1
    out = capsys.readouterr().out
    assert "[FAILED]" in out and "--cell-timeout SECONDS" in out and "CELL_TIMEOUT=SECONDS" in out
    assert not (tmp_path / "results" / "01_slow.json").exists()


def test_full_mode_cells_have_no_time_limit_unless_given_one():
    # a full-mode training cell runs for hours (checkpointed); quick mode's half hour would cut it off
    assert reproduce._arguments(["--mode", "full"]).cell_timeout is None
    assert reproduce._arguments([]).cell_timeout == 1800
    assert reproduce._arguments(["--mode", "full", "--cell-timeout", "60"]).cell_timeout == 60
    with pytest.raises(SystemExit):
        reproduce._arguments(["--cell-timeout", "0"])


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


def timeline_notebook(stem: str, wait_for: str | None = None, signal: str | None = None, reads: str | None = None):
    """A notebook that records when it ran (and, in quick mode, its kernel's thread setting); it can wait for
    a file that another notebook writes (so it passes only if the two run at once) and read another's results."""
    code = ("import json, os, time\nfrom pathlib import Path\nfrom flowlab.files import write_json_atomic\n"
            "from flowlab.lab.outputs import results_dir\nroot = Path(os.environ['FLOWLAB_ROOT'])\n"
            "start = time.time()\n")
    if signal:
        code += f"(root / '{signal}').write_text('here')\n"
    if wait_for:
        code += (f"while not (root / '{wait_for}').exists():\n"
                 f"    assert time.time() - start < 120, 'the other notebook never ran beside this one'\n"
                 f"    time.sleep(0.05)\n")
    read = f"json.loads((root / 'results' / '{reads}.json').read_text())['end']" if reads else "None"
    code += (f"time.sleep(0.5)\nwrite_json_atomic(results_dir(mode) / '{stem}.json', {{'notebook': '{stem}', "
             f"'provenance': {{'mode': mode}}, 'claims': [], 'start': start, 'end': time.time(), 'read': {read}, "
             f"'threads': os.environ.get('OMP_NUM_THREADS')}})")
    return [("parameters", 'mode = "quick"\nseed = 0'), (None, code)]


def test_notebooks_run_side_by_side_except_the_timed_ones_and_after_what_they_read(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    notebooks = {"01_a": timeline_notebook("01_a", wait_for="b.flag", signal="a.flag"),
                 "02_b": timeline_notebook("02_b", wait_for="a.flag", signal="b.flag"),
                 "03_timed": timeline_notebook("03_timed"),
                 "04_reader": timeline_notebook("04_reader", reads="01_a"),
                 "05_c": timeline_notebook("05_c")}
    for stem, cells in notebooks.items():
        write_notebook(tmp_path / "notebooks" / f"{stem}.ipynb", cells)
    monkeypatch.setenv("FLOWLAB_ROOT", str(tmp_path))
    monkeypatch.setattr(reproduce.manifest, "TIMED", ("03_timed",))
    monkeypatch.setattr(reproduce.manifest, "DEPENDS_ON", {"04_reader": ("01_a",)})
    assert reproduce.main(["--jobs", "2"]) == 0  # 01_a and 02_b each wait for the other: both pass only side by side
    ran = {stem: json.loads((tmp_path / "results" / f"{stem}.json").read_text()) for stem in notebooks}
    timed = ran["03_timed"]
    for stem, r in ran.items():
        assert r["threads"] == (None if stem == "03_timed" else "1"), f"{stem}: one thread, but a timed one all"
        if stem != "03_timed":
            assert r["end"] < timed["start"] or r["start"] > timed["end"], f"{stem} ran beside the timed notebook"
    assert ran["04_reader"]["read"] == ran["01_a"]["end"] and ran["04_reader"]["start"] > ran["01_a"]["end"]
    runs = json.loads((tmp_path / "results" / reproduce.RUNS_FILE).read_text())
    assert {r["jobs"] for r in runs.values()} == {2}


def test_jobs_must_be_positive(repo):
    with pytest.raises(SystemExit):
        reproduce.main(["--jobs", "0"])


def git(repo, *args):
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                           *args], cwd=repo, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def committed(repo):
    """The throw-away repository with its default-parameter references run and committed."""
    (repo / "README.md").write_text(f"# demo\n\n{tables.README_START}\n{tables.README_END}\n")
    (repo / ".gitignore").write_text("build/\nscratch.py\n")  # a developer's own untracked module
    assert reproduce.main(["--nb", "01"]) == 0
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "references")
    assert git(repo, "status", "--porcelain") == ""
    return repo


def test_non_default_parameters_write_to_build_interactive_and_touch_nothing_committed(committed, capsys):
    repo = committed
    capsys.readouterr()
    assert reproduce.main(["--nb", "01", "-p", "seed=3"]) == 0
    out = capsys.readouterr().out
    assert "build/interactive/notebooks/" in out and "build/interactive/results/" in out
    assert git(repo, "status", "--porcelain") == "", "a non-default run changed committed files"
    interactive = repo / "build" / "interactive"
    assert json.loads((interactive / "results" / "01_demo.json").read_text())["seed"] == 3
    assert (interactive / "figures" / "01_demo_0.png").is_file()
    executed = json.loads((interactive / "notebooks" / "01_demo.ipynb").read_text())
    assert all(c["execution_count"] for c in executed["cells"] if c["cell_type"] == "code")

    assert reproduce.main(["--nb", "01", "--mode", "full", "-p", "seed=3"]) == 0
    assert git(repo, "status", "--porcelain") == ""
    assert json.loads((interactive / "results" / "full" / "01_demo.json").read_text())["seed"] == 3
    assert (interactive / "notebooks" / "full" / "01_demo.ipynb").is_file()


def test_an_explicit_default_is_the_default(committed, capsys):
    capsys.readouterr()
    assert reproduce.main(["--nb", "01", "-p", "seed=0"]) == 0
    assert "[up to date] 01_demo" in capsys.readouterr().out
    assert git(committed, "status", "--porcelain") == ""


def test_a_fresh_clone_of_current_references_is_up_to_date(library, committed, tmp_path_factory, monkeypatch,
                                                            capsys):
    assert (committed / "lib" / "flowlab" / "scratch.py").is_file()
    clone = tmp_path_factory.mktemp("elsewhere") / "clone"
    git(committed, "clone", "-q", str(committed), str(clone))
    monkeypatch.setenv("FLOWLAB_ROOT", str(clone))
    capsys.readouterr()
    assert reproduce.main(["--nb", "01"]) == 0
    out = capsys.readouterr().out
    assert "[up to date] 01_demo" in out and "[running]" not in out
    assert git(clone, "status", "--porcelain") == ""


def fake_paths(*stems):
    return [Path("notebooks") / f"{s}.ipynb" for s in stems]


def test_nb_selects_by_exact_number_or_name():
    paths = fake_paths("01_a", "03_glow_vs_realnvp", "10_b", "11_c")
    assert reproduce.select(paths, "01") == paths[:1]
    assert reproduce.select(paths, "10, 03_glow_vs_realnvp,10") == [paths[2], paths[1]]
    for nb in ("1", "0", "3", "001"):
        with pytest.raises(SystemExit, match=rf"NB='{nb}' is not a two-digit notebook number; expected a two-digit "
                                             rf"number such as 03.*available: 01_a, 03_glow_vs_realnvp, 10_b, 11_c"):
            reproduce.select(paths, nb)
    for nb in ("03_glow", "1_", "glow", "04"):
        with pytest.raises(SystemExit, match=rf"no notebook matches NB='{nb}'; expected a two-digit number such as 03"):
            reproduce.select(paths, nb)


def test_a_misspelt_parameter_is_refused_with_the_known_ones(repo):
    with pytest.raises(SystemExit, match=r"01_demo has no parameter sead \(did you mean 'seed'\?\); it takes mode, "
                                         r"seed, fail"):
        reproduce.main(["--nb", "01", "-p", "sead=3"])


LIBRARY = {
    "__init__.py": '"""root"""\n',
    "files.py": "import os\n",
    "lab/__init__.py": "from flowlab.lab.outputs import results_dir\n",
    "lab/outputs.py": "from ..measure import timing\n\n\ndef results_dir():\n    from . import style\n",
    "lab/style.py": "STYLE = 1\n",
    "lab/reproduce.py": "import flowlab.lab\n",
    "measure/__init__.py": "",
    "measure/timing.py": "import time\n",
    "unused.py": "import flowlab.files\n",
    "scratch.py": "import flowlab.lab\n",  # imported by nothing, and not committed
}


@pytest.fixture
def library(repo):
    """A small library under the throw-away repository's lib/ for the notebook's imports to resolve in."""
    for name, text in LIBRARY.items():
        path = repo / "lib" / "flowlab" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return repo


def test_notebook_imports_are_followed_through_the_library(library):
    code = reproduce.code_sources(library / "notebooks" / "01_demo.ipynb")
    assert provenance.imported_modules(library, code) == [
        "flowlab", "flowlab.files", "flowlab.lab", "flowlab.lab.outputs", "flowlab.lab.style", "flowlab.measure",
        "flowlab.measure.timing"]


@pytest.mark.parametrize("edited, changes", [
    ("unused.py", False), ("lab/reproduce.py", False),  # not imported; the driver
    ("files.py", True), ("lab/__init__.py", True), ("__init__.py", True),  # imported by the notebook
    ("measure/timing.py", True), ("lab/style.py", True),  # imported by what it imports, even lazily
])
def test_the_stamp_changes_with_what_the_notebook_imports_and_nothing_else(library, edited, changes):
    nb = library / "notebooks" / "01_demo.ipynb"
    before = reproduce.input_digest(nb, library, "quick", {})
    with open(library / "lib" / "flowlab" / edited, "a") as f:
        f.write("\nEDITED = True\n")
    assert (reproduce.input_digest(nb, library, "quick", {}) != before) is changes


def test_the_stamp_is_the_same_wherever_the_tree_is(library, tmp_path_factory):
    nb = "notebooks/01_demo.ipynb"
    here = reproduce.input_digest(library / nb, library, "quick", {"seed": 0})
    copy = tmp_path_factory.mktemp("copy") / "elsewhere"
    shutil.copytree(library, copy)
    os.utime(copy / "lib" / "flowlab" / "files.py", (0, 0))
    assert reproduce.input_digest(copy / nb, copy, "quick", {}) == here  # seed=0 is the default
    assert reproduce.input_digest(copy / nb, copy, "quick", {"seed": 3}) != here
    assert reproduce.input_digest(copy / nb, copy, "full", {}) != here


def test_the_stamp_covers_what_the_calibration_record_says_of_the_notebooks_claims(library):
    """A notebook's results carry its claims' calibration counts, so a record that changes them makes it
    stale; runs of another notebook's claims, or a record that says the same, leave it up to date."""
    from flowlab.lab import calibrate

    nb = library / "notebooks" / "05_universal_1d_flows.ipynb"
    shutil.copy(library / "notebooks" / "01_demo.ipynb", nb)
    record = library / "results" / "calibration" / "quick.json"
    record.parent.mkdir(parents=True)

    def run(notebook, claim, verdict, seed):
        return {"notebook": notebook, "seed": seed, "float_path": "native", "status": "ok",
                "claims": {claim: {"verdict": verdict}}}

    def digest(*runs):
        record.write_text(json.dumps({"mode": "quick", "runs": list(runs)}))
        return reproduce.input_digest(nb, library, "quick", {})

    none = digest()
    ours = run("05_universal_1d_flows", "C16", "reproduced", 0)
    assert digest(ours) != none
    assert calibrate.measured_for(nb.stem, "quick", record)["C16"] == {
        "outcomes_over_seed_sets": {"native": {"reproduced": 1}, "default": {}}}
    assert digest(ours, run("03_glow_vs_realnvp", "C07", "reproduced", 0)) == digest(ours)  # another notebook's
    assert digest(ours, run("05_universal_1d_flows", "C16", "reproduced", 1)) != digest(ours)
    failed = dict(ours, status="failed")
    assert digest(failed) == none  # a failed run counts for nothing


def test_consecutive_prints_become_one_output_box():
    from flowlab.lab.executed import merge_streams

    outs = [{"output_type": "stream", "name": "stdout", "text": ["a\n"]},
            {"output_type": "stream", "name": "stdout", "text": "b\n"},
            {"output_type": "stream", "name": "stderr", "text": "w\n"},
            {"output_type": "display_data", "data": {"text/plain": "fig"}, "metadata": {}},
            {"output_type": "stream", "name": "stdout", "text": "c\n"}]
    assert merge_streams(outs) == [{"output_type": "stream", "name": "stdout", "text": "a\nb\n"},
                                   outs[2], outs[3], outs[4]]
    assert outs[0]["text"] == ["a\n"]  # the input is left as it was
