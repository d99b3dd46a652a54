"""Scale-out on torchrun: one model trained data-parallel (DDP), or a sweep's runs spread over ranks.

torchrun starts the processes and describes the group in the environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, the rendezvous); :func:`join` joins it, NCCL on GPUs and gloo on CPUs. The same
script runs unchanged in one process, where every call here is the identity::

    python train.py                                                   # one process: a GPU or the CPU
    torchrun --standalone --nproc_per_node=N train.py                 # N GPUs (or N CPU processes), one machine
    torchrun --nnodes=M --nproc_per_node=N --rdzv_backend=c10d \\
             --rdzv_endpoint=HOST:29500 --rdzv_id=JOB train.py        # M machines: the same line on each

Data-parallel: each rank takes an equal slice of the global batch and DDP averages the gradients, so
a step equals the single-process step on the whole batch. A sweep: each rank trains the runs
``runs[rank::world]`` and :func:`gather` hands every rank all the results.
"""
from __future__ import annotations

import os
from typing import NamedTuple

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from flowlab.train.ensemble import _CallAs  # DDP syncs the gradients of what runs through forward
from flowlab.validate import Items, Module, checked

__all__ = ["Rank", "data_parallel", "gather", "join", "leave", "shard"]


class Rank(NamedTuple):
    """This process's place in the group: ``rank`` of ``world`` processes, on ``device``."""

    rank: int
    world: int
    device: torch.device


def join() -> Rank:
    """Join the process group torchrun describes (nothing to join in a plain ``python`` run)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return Rank(dist.get_rank() if world > 1 else 0, world, device)


def leave() -> None:
    """Leave the process group (at the end of a torchrun script)."""
    if dist.is_initialized():
        dist.destroy_process_group()


@checked
def data_parallel(model: Module, rank: Rank, method: str = "log_prob") -> nn.Module:
    """``model`` on ``rank.device`` as a module whose call is ``model.<method>``, wrapped in DDP when
    the group has more than one process: a backward through it averages the gradients over ranks."""
    wrapped = _CallAs(model.to(rank.device), method)
    if rank.world == 1:
        return wrapped
    return DistributedDataParallel(wrapped, device_ids=[rank.device] if rank.device.type == "cuda" else None)


@checked
def shard(runs: Items, rank: Rank) -> list:
    """The runs of a sweep this rank trains: every ``world``-th, from its own index."""
    return list(runs[rank.rank::rank.world])


def gather(results: dict, rank: Rank) -> dict:
    """Every rank's ``results`` (run -> result, JSON-like values) merged, on every rank."""
    if rank.world == 1:
        return dict(results)
    parts: list = [None] * rank.world
    dist.all_gather_object(parts, results)  # pickled between the job's own processes only
    return {k: v for part in parts for k, v in part.items()}
