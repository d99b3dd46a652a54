"""``python -m flowlab.train``: an experiment killed mid-way resumes to the uninterrupted run's weights and
results, a finished one only loads, and under torchrun its variants spread over the ranks with the same
results."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from flowlab.train import experiments
from flowlab.train.experiments import EXPERIMENTS, default_directory, publish, reference_directory, run_experiment

KILL_WORKER = Path(__file__).with_name("kill_worker.py")
# 6 variants x 2 seeds x 8 steps of quick C11 on digits, a checkpoint every 3 steps, one thread
ARGS = ["C11", "--steps", "8", "--seeds", "2", "--checkpoint-every", "3", "--threads", "1"]
ENV = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")} | {"CI": "1"}


def _entry(directory: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowlab.train", *ARGS, "--directory", str(directory), *extra],
                          capture_output=True, text=True, timeout=600, env=ENV)


def _weights(directory: Path) -> dict:
    return {p.name: torch.load(p, weights_only=True) for p in sorted(directory.glob("*.pt"))}


def _numbers(directory: Path) -> dict:
    """Every run's numbers, less whether this call loaded or trained it and how long it took."""
    runs = json.loads((directory / "results.json").read_text())["runs"]
    return {key: {n: ({**v, "seconds": None} if n == "history" else v) for n, v in run.items() if n != "cached"}
            for key, run in runs.items()}


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    directory = tmp_path_factory.mktemp("whole")
    run = _entry(directory)
    assert run.returncode == 0, run.stderr[-3000:]
    return directory


def test_a_killed_experiment_resumes_to_the_uninterrupted_one(whole, tmp_path):
    # killed in step 5 of the third variant: two variants done, the third saved at step 3
    killed = subprocess.run([sys.executable, str(KILL_WORKER), "5", "3", *ARGS, "--directory", str(tmp_path)],
                            capture_output=True, text=True, timeout=600, env=ENV)
    assert killed.returncode == -9 and not (tmp_path / "results.json").exists(), killed.stderr[-3000:]
    saved = _weights(tmp_path)
    assert len(saved) == 3 and [s.get("step") for s in saved.values()].count(3) == 1
    resumed = _entry(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = _weights(whole), _weights(tmp_path)
    assert a.keys() == b.keys() and len(a) == 6
    for name in a:   # bit for bit, on one machine
        assert all(torch.equal(a[name]["model"][k], b[name]["model"][k]) for k in a[name]["model"]), name
    assert _numbers(whole) == _numbers(tmp_path)
    cached = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert sum(run["cached"] for run in cached.values()) == 2 * 2   # the two variants done before the kill
    # the training time counts every call: the killed call's share of the third variant is in its final time
    mid = next(name for name, state in saved.items() if state.get("step") == 3)
    seconds = {name: json.loads(state["history"])["seconds"] for name, state in b.items()}
    assert seconds[mid] > json.loads(saved[mid]["history"])["seconds"] > 0
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["train_seconds"] == pytest.approx(sum(seconds.values()), abs=1e-6)
    assert "conv + affine" in resumed.stdout and "results.json" in resumed.stdout


def test_a_finished_experiment_loads_without_training(whole):
    before = (whole / "results.json").read_text()
    again = subprocess.run([sys.executable, str(KILL_WORKER), "1", "1", *ARGS, "--directory", str(whole)],
                           capture_output=True, text=True, timeout=600, env=ENV)  # would die if it trained
    assert again.returncode == 0, again.stderr[-3000:]
    assert (whole / "results.json").read_text() == before   # the training's record (its time) is kept


def test_torchrun_spreads_the_variants_over_two_ranks_with_the_same_results(whole, tmp_path):
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "flowlab.train", *ARGS, "--directory", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, env=ENV)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    record = json.loads((tmp_path / "results.json").read_text())
    assert record["ranks"] == 2 and record["runs"].keys() == _numbers(whole).keys()
    for key, numbers in _numbers(whole).items():  # one thread a process, the same kernels: equal, not close
        assert record["runs"][key]["bpd"] == numbers["bpd"], key
        assert {**record["runs"][key]["history"], "seconds": None} == numbers["history"], key


def test_the_scale_names_its_folder_and_refuses_unknown_experiments():
    exp = EXPERIMENTS["C11"]
    quick, full = exp.settings("quick", (1, 8, 8)), exp.settings("full", (1, 32, 32), dataset="cifar10")
    assert (quick.levels, quick.depth, quick.steps) == (2, 3, 300)
    assert (full.levels, full.hidden, full.dataset) == (3, 256, "cifar10")
    assert default_directory("C11", "quick", quick, 0).name == "quick-digits-300steps-3seeds-seed0"
    with pytest.raises(ValueError, match="C99"):
        run_experiment("C99")


def test_a_published_reference_loads_in_place_of_training(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWLAB_ROOT", str(tmp_path))
    small = dict(steps=3, seeds=2, progress=False)
    runs, record = run_experiment("C11", **small, directory=tmp_path / "trained")
    folder = publish("C11", runs, record)
    s = EXPERIMENTS["C11"].settings("quick", (1, 8, 8), steps=3, seeds=2)
    assert folder == reference_directory("C11", "quick", s, 0) and folder.is_relative_to(tmp_path / "results")
    assert sorted(p.name for p in folder.iterdir()) == ["conv+affine-seed0.pt", "results.json",
                                                        "reverse+affine-seed0.pt"]

    def no_training(*args, **kwargs):
        raise AssertionError("trained although a reference of these settings is committed")

    monkeypatch.setattr(experiments, "fit_image_flow_ensemble", no_training)
    loaded, loaded_record = run_experiment("C11", **small, checkpoints=True, references=True)
    assert loaded_record["reference"] == folder.relative_to(tmp_path).as_posix()
    assert loaded_record["train_seconds"] == record["train_seconds"] > 0
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for key, run in runs.items():
        assert loaded[key]["bpd"] == run["bpd"] and loaded[key]["cached"]
        if key[:2] in EXPERIMENTS["C11"].shown and key[2] == 0:  # the weights it keeps: the same model
            assert torch.equal(loaded[key]["model"].log_prob(x), run["model"].log_prob(x)), key
        else:
            assert loaded[key]["model"] is None

    # settings the reference was not made at: it is not used (and training would start)
    with pytest.raises(AssertionError, match="trained although"):
        run_experiment("C11", steps=4, seeds=2, progress=False, references=True)
    stale = json.loads((folder / "results.json").read_text())
    stale["settings"]["lr"] *= 2
    (folder / "results.json").write_text(json.dumps(stale))
    with pytest.raises(AssertionError, match="trained although"), pytest.warns(UserWarning, match="other settings"):
        run_experiment("C11", **small, references=True)


def test_publish_is_for_full_mode():
    run = subprocess.run([sys.executable, "-m", "flowlab.train", "C11", "--publish"], capture_output=True, text=True,
                         timeout=120, env=ENV)
    assert run.returncode != 0 and "--publish writes a full-mode reference; add --mode full" in run.stderr
