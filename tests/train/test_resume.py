"""A run killed mid-way resumes from its last checkpoint and ends where the uninterrupted run ends."""
import subprocess
import sys
from pathlib import Path

import torch

WORKER = Path(__file__).with_name("resume_worker.py")


def _run(checkpoint: Path, out: Path, kill_at: int = 0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(WORKER), str(checkpoint), str(out), str(kill_at)],
                          capture_output=True, text=True, timeout=300)


def test_a_killed_run_resumes_to_the_uninterrupted_weights(tmp_path):
    whole = _run(tmp_path / "whole.pt", tmp_path / "whole_out.pt")
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = _run(tmp_path / "run.pt", tmp_path / "run_out.pt", kill_at=13)
    assert killed.returncode == -9 and not (tmp_path / "run_out.pt").exists(), killed.stderr[-2000:]
    saved = torch.load(tmp_path / "run.pt", weights_only=True)
    assert saved["step"] == 10 and len(saved["optimizer"]["state"]) > 0     # the last save before the kill
    resumed = _run(tmp_path / "run.pt", tmp_path / "run_out.pt")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = torch.load(tmp_path / "whole_out.pt", weights_only=True), torch.load(tmp_path / "run_out.pt",
                                                                              weights_only=True)
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])   # bit for bit, on one machine
    assert torch.equal(a["losses"], b["losses"]) and len(a["losses"]) == 20 and a["bpd"] == b["bpd"]
    # and a finished run is a cache: called again, it trains nothing and returns the same
    again = _run(tmp_path / "run.pt", tmp_path / "again_out.pt", kill_at=1)
    assert again.returncode == 0, again.stderr[-2000:]
    assert torch.equal(torch.load(tmp_path / "again_out.pt", weights_only=True)["losses"], a["losses"])
