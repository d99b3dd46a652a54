"""torchrun with 2 gloo processes on CPU: DDP's gradients equal one process's, a sharded sweep equals the
unsharded one (the worker, ``ddp_worker.py``, computes both sides)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from flowlab.train.distributed import Rank, data_parallel, gather, join, shard

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(WORKER), str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_ddp_gradients_equal_one_process_on_the_global_batch(two_ranks):
    zero = two_ranks[0]
    assert zero["world"] == 2
    # the same float64 sums in another order: a few ulps of the largest gradient
    assert zero["grad_gap"] <= 1e-12 * max(1.0, zero["grad_scale"]), zero


def test_a_sharded_sweep_equals_the_unsharded_one(two_ranks):
    zero, one = two_ranks
    assert zero["mine"] == [0, 2, 4] and one["mine"] == [1, 3]
    assert zero["sharded"] == one["sharded"]            # every rank holds every result
    assert zero["sharded"].keys() == zero["unsharded"].keys()
    for seed, losses in zero["unsharded"].items():
        assert zero["sharded"][seed] == pytest.approx(losses, rel=1e-12, abs=1e-12), seed


def test_one_process_is_the_identity():
    rank = join()
    assert rank == Rank(0, 1, rank.device) and shard(range(5), rank) == [0, 1, 2, 3, 4]
    assert gather({"a": 1}, rank) == {"a": 1}
    model = torch.nn.Linear(2, 1)
    model.log_prob = lambda x: model(x).squeeze(-1)
    assert data_parallel(model, rank)(torch.zeros(3, 2)).shape == (3,)
    with pytest.raises(TypeError, match="data_parallel: model must be a torch.nn.Module"):
        data_parallel(object(), rank)
