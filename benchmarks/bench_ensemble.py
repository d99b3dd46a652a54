"""A sweep's seeds trained together (``flowlab.train.ensemble``, one ``torch.func.vmap`` ensemble)
against the same seeds trained one by one (``fit_image_flow`` per seed), issue #19's target being 3x the
throughput (a ratio of at most 1/3).

The models are notebook 03's quick-mode C11 runs: conv + affine multi-scale Glow on scikit-learn's
8x8 digits (L = 2, K = 3, hidden 32, batch 64, float32), 6 seeds. A call trains every seed for 20 steps
and evaluates each on the test set once, both sides; they alternate within one loop (``timing.interleaved``).

The second row splits the sweep the way torchrun's ranks do (``python -m flowlab.train`` under torchrun,
``flowlab.train.distributed.shard``): two worker processes of one thread each, each training its half of
the seeds as one ensemble. The workers start and load the data once, before the timing, as torchrun's
ranks do once per sweep; each call builds its models inside the worker, which the one-by-one side does not
pay.
"""
from __future__ import annotations

import functools
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import torch

from flowlab.data import load_images
from flowlab.flows import multiscale_model
from flowlab.train import fit_image_flow, seed_everything
from flowlab.train.ensemble import fit_image_flow_ensemble
from timing import interleaved, row

SEEDS, STEPS, BATCH, LR = 6, 20, 64, 2e-3


@functools.cache
def _digits():
    return load_images("digits")  # once per worker, as a rank loads its data once per sweep


def _half_sweep(seeds: list[int]) -> list[float]:
    """One worker's share: its seeds as one ensemble, on one thread; their test bits/dim."""
    torch.set_num_threads(1)
    data = _digits()
    generators = [seed_everything(s) for s in seeds]
    models = [multiscale_model(data.shape, 2, 3, 32, "conv", "affine", generator=g) for g in generators]
    fits = fit_image_flow_ensemble(models, data.train, data.test, data.levels, steps=STEPS, batch_size=BATCH,
                                   lr=LR, generators=generators, progress=False)
    return [bpd for _, bpd in fits]


def run(quick: bool) -> list[dict]:
    data = load_images("digits")

    def build(seed):
        g = seed_everything(seed)
        return multiscale_model(data.shape, 2, 3, 32, "conv", "affine", generator=g), g

    alone, together = [build(s) for s in range(SEEDS)], [build(s) for s in range(SEEDS)]

    def one_by_one():
        for model, g in alone:
            fit_image_flow(model, data.train, data.test, data.levels, steps=STEPS, batch_size=BATCH, lr=LR,
                           generator=g, progress=False)

    def ensemble():
        fit_image_flow_ensemble([m for m, _ in together], data.train, data.test, data.levels, steps=STEPS,
                                batch_size=BATCH, lr=LR, generators=[g for _, g in together], progress=False)

    ours, peer = interleaved(ensemble, one_by_one, repeats=5 if quick else 10, warmup=1)
    rows = [row(f"C11 sweep: {SEEDS} seeds x {STEPS} steps", ours, "one by one", peer, seeds=SEEDS, steps=STEPS,
                shape=[BATCH, *data.shape], threads=torch.get_num_threads())]
    halves = [list(range(SEEDS))[i::2] for i in range(2)]
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as workers:
        def two_processes():
            list(workers.map(_half_sweep, halves))

        ours, peer = interleaved(two_processes, one_by_one, repeats=5 if quick else 10, warmup=1)
    rows.append(row(f"C11 sweep: {SEEDS} seeds x {STEPS} steps, 2 processes x {SEEDS // 2}-seed ensembles", ours,
                    "one by one", peer, seeds=SEEDS, steps=STEPS, shape=[BATCH, *data.shape], processes=2,
                    threads=torch.get_num_threads()))
    return rows
