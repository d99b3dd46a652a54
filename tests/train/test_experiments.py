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

from flowlab.train.experiments import EXPERIMENTS, default_directory, run_experiment

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
    """Every run's numbers, less whether this call loaded or trained it."""
    runs = json.loads((directory / "results.json").read_text())["runs"]
    return {key: {n: v for n, v in run.items() if n != "cached"} for key, run in runs.items()}


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
        assert record["runs"][key]["history"] == numbers["history"], key


def test_the_scale_names_its_folder_and_refuses_unknown_experiments():
    exp = EXPERIMENTS["C11"]
    quick, full = exp.settings("quick", (1, 8, 8)), exp.settings("full", (1, 32, 32), dataset="cifar10")
    assert (quick.levels, quick.depth, quick.steps) == (2, 3, 300)
    assert (full.levels, full.hidden, full.dataset) == (3, 256, "cifar10")
    assert default_directory("C11", "quick", quick, 0).name == "quick-digits-300steps-3seeds-seed0"
    with pytest.raises(ValueError, match="C99"):
        run_experiment("C99")
