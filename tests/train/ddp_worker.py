"""Run by tests/train/test_distributed.py under ``torchrun --nproc_per_node=2`` (gloo, CPU).

Writes ``OUT/rank<r>.json``: the largest gap between DDP's gradients on a split batch and one process's
on the whole batch (rank 0 computes the latter), and a sharded sweep's results beside the same sweep
trained unsharded.
"""
import copy
import json
import sys
from pathlib import Path

import torch

from flowlab.flows import MAF, FlowModel, StandardNormal
from flowlab.train import fit, seed_everything
from flowlab.train.distributed import data_parallel, gather, join, leave, shard


def tiny_model(seed: int) -> FlowModel:
    seed_everything(seed)
    return FlowModel(MAF(3, hidden=8, layers=2), StandardNormal(3)).double()


def train_run(seed: int) -> list[float]:
    """A run of the sweep: 5 Adam steps on its own seed's data; its losses and final weights' sum."""
    model = tiny_model(seed)
    gen = torch.Generator().manual_seed(100 + seed)
    data = torch.randn(64, 3, generator=gen, dtype=torch.float64)
    history = fit(model, lambda x: -model.log_prob(x).mean(), lambda step: data[8 * step: 8 * step + 8],
                  steps=5, lr=1e-2, progress=False)
    return [*history.losses, sum(p.sum().item() for p in model.parameters())]


def main(out: Path) -> None:
    rank = join()
    model = tiny_model(0)
    reference = copy.deepcopy(model)
    batch = torch.randn(8, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ddp = data_parallel(model, rank)
    (-ddp(batch.chunk(rank.world)[rank.rank]).mean()).backward()
    result = {"world": rank.world}
    if rank.rank == 0:
        (-reference.log_prob(batch).mean()).backward()
        gaps = [(p.grad - q.grad).abs().max().item() for p, q in zip(model.parameters(), reference.parameters())]
        result["grad_gap"], result["grad_scale"] = max(gaps), max(q.grad.abs().max().item() for q in
                                                                 reference.parameters())
    seeds = [0, 1, 2, 3, 4]
    sharded = gather({str(s): train_run(s) for s in shard(seeds, rank)}, rank)
    result["mine"] = shard(seeds, rank)
    result["sharded"] = sharded
    if rank.rank == 0:
        result["unsharded"] = {str(s): train_run(s) for s in seeds}
    (out / f"rank{rank.rank}.json").write_text(json.dumps(result))
    leave()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
