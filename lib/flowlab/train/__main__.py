"""Train one of the lectures' ordering experiments from the command line.

    python -m flowlab.train C11                         # quick mode: minutes on a laptop
    python -m flowlab.train C11 --mode full --seeds 5   # the scale the claim needs; resumes if interrupted
    python -m flowlab.train C11 --mode full --publish   # and commit its results as the notebook's reference
    torchrun --standalone --nproc_per_node=2 -m flowlab.train C11 --mode full   # variants over 2 processes

Checkpoints and ``results.json`` go to ``checkpoints/<EXPERIMENT>/<scale>/`` (or ``--directory``); the
experiment's notebook, run in the same mode, loads them instead of training. Called again after an
interruption, a run resumes at its last checkpoint; called again when finished, it only loads.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import torch

from flowlab.data.images import load_images
from flowlab.train.distributed import leave
from flowlab.train.experiments import EXPERIMENTS, default_directory, publish, run_experiment


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flowlab.train", description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS), help="the claim whose ordering to train")
    parser.add_argument("--mode", choices=("quick", "full"), default="quick")
    parser.add_argument("--dataset", help="in place of the mode's default (digits, mnist5k, mnist, cifar10)")
    parser.add_argument("--steps", type=int, help="training steps per run (default: the mode's)")
    parser.add_argument("--seeds", type=int, help="seeds per variant (default: the mode's)")
    parser.add_argument("--seed", type=int, default=0, help="the base seed (seed i of a variant is 1000*seed+i)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (torchrun picks each rank's own)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--directory", help="where checkpoints and results.json go (default: checkpoints/...)")
    parser.add_argument("--checkpoint-every", type=int, default=0,
                        help="steps between checkpoints (default: every 5%% of the run)")
    parser.add_argument("--publish", action="store_true",
                        help="when finished, write results.json and the sampled variants' seed-0 weights to "
                             "results/full/experiments/...: the committed reference the full-mode notebook loads")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.publish and args.mode != "full":
        raise SystemExit("python -m flowlab.train: --publish writes a full-mode reference; add --mode full "
                         "(quick mode trains in minutes and keeps no reference)")
    if args.threads:
        torch.set_num_threads(args.threads)
    exp = EXPERIMENTS[args.experiment]
    settings = exp.settings(args.mode, load_images(args.dataset or getattr(exp, args.mode).dataset).shape,
                            dataset=args.dataset, steps=args.steps, seeds=args.seeds)
    directory = args.directory or default_directory(args.experiment, args.mode, settings, args.seed)
    every = args.checkpoint_every or max(1, settings.steps // 20)
    try:
        runs, record = run_experiment(args.experiment, mode=args.mode, dataset=args.dataset, steps=args.steps,
                                      seeds=args.seeds, seed=args.seed, device=args.device, directory=directory,
                                      checkpoint_every=every)
    finally:
        leave()  # torchrun's process group, when there is one
    first = int(os.environ.get("RANK", "0")) == 0
    if args.publish:
        folder = publish(args.experiment, runs, record, with_record=first)
    if not first:
        return 0  # rank 0 reports for the group
    print(f"{args.experiment} ({args.mode}, {settings.dataset}, {settings.steps} steps x {settings.seeds} seeds): "
          f"{record['seconds']:.0f} s on {record['device']} x {record['ranks']} process(es); test bits/dim:")
    for permutation, coupling in exp.variants:
        bpds = [runs[permutation, coupling, i]["bpd"] for i in range(settings.seeds)]
        sd = statistics.stdev(bpds) if len(bpds) > 1 else 0.0
        print(f"  {permutation:>8} + {coupling:<8} {statistics.mean(bpds):.4f} +- {sd:.4f}")
    print(f"checkpoints and results.json in {directory}")
    if args.publish:
        print(f"published as the committed reference in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
