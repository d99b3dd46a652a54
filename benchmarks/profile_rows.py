"""Where a benchmark row's time goes: ``python benchmarks/profile_rows.py [--rows realnvp,glow,ffjord]``.

Builds the same models as ``bench_discrete`` and ``bench_continuous`` and runs each side's ``log_prob``
and training step under ``torch.profiler``, then prints the operators that take the most self CPU
time, ours beside the peer's, and the share of the wall time that no operator accounts for (Python
between operators: checks, bookkeeping, module calls). Profiling only; nothing is written or asserted.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_continuous  # noqa: E402
import bench_discrete  # noqa: E402


def _profile(fn, calls: int):
    fn(), fn()  # warm-up, as the benchmarks do
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            fn()
    wall = (time.perf_counter() - start) / calls
    events = prof.key_averages()
    top_level = sum(e.self_cpu_time_total for e in events) / 1e6 / calls
    return wall, top_level, sorted(events, key=lambda e: -e.self_cpu_time_total)


def report(name: str, sides: dict, calls: int = 5, top: int = 8) -> None:
    print(f"\n== {name}")
    for side, fn in sides.items():
        wall, ops, events = _profile(fn, calls)
        print(f"  {side:<10} {wall * 1e3:8.2f} ms per call; operators' self time {ops * 1e3:8.2f} ms "
              f"({ops / wall:.0%} of the wall time under the profiler)")
        for e in events[:top]:
            print(f"      {e.key:<48} {e.self_cpu_time_total / 1e3 / calls:8.3f} ms  x{e.count // calls}")


def discrete_row(kind: str) -> None:
    batch, channels, size, steps, hidden = 64, 8, 16, 4, 64  # bench_discrete's quick sizes
    x = torch.randn(batch, channels, size, size)
    ours, peer = bench_discrete._image_models(kind, channels, size, steps, hidden)
    with torch.no_grad():
        ours.log_prob(x), peer.log_prob(x)
    bench_discrete._perturb(ours, peer)
    with torch.no_grad():
        report(f"{kind} log_prob", {"ours": lambda: ours.log_prob(x), "normflows": lambda: peer.log_prob(x)})
    report(f"{kind} train step", {
        "ours": bench_discrete._train_step(list(ours.parameters()), lambda: -ours.log_prob(x).mean()),
        "normflows": bench_discrete._train_step(list(peer.parameters()), lambda: -peer.log_prob(x).mean())})


def ffjord() -> None:
    import zuko

    from flowlab.flows import CNF, FlowModel, StandardNormal
    from flowlab.nn import TimeConcatMLP

    torch.manual_seed(0)
    x = torch.randn(256, 2) * 1.5
    peer = zuko.flows.CNF(2, hidden_features=(64, 64), exact=False, atol=1e-6, rtol=1e-5)
    cnf = CNF(TimeConcatMLP(2, (64, 64), activation="elu"), 2, trace="hutchinson", noise="gaussian",
              method="dopri5", rtol=1e-5, atol=1e-6, adjoint=True)
    model = FlowModel(cnf, StandardNormal(2))
    report("FFJORD train step, hutchinson, adjoint", {
        "ours": bench_continuous._train_step(model.log_prob, list(model.parameters()), x),
        "zuko": bench_continuous._train_step(lambda v: peer().log_prob(v), list(peer.parameters()), x)}, calls=3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default="realnvp,glow,ffjord", help="comma-separated: realnvp, glow, ffjord")
    rows = parser.parse_args(argv).rows.split(",")
    unknown = set(rows) - {"realnvp", "glow", "ffjord"}
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; expected realnvp, glow or ffjord")
    warnings.filterwarnings("ignore", message=".*torch.lu is deprecated")  # inside normflows
    _profile(lambda: torch.ones(8).sum(), 1)  # the profiler's first use in a process pays its start-up
    for kind in ("realnvp", "glow"):
        if kind in rows:
            discrete_row(kind)
    if "ffjord" in rows:
        ffjord()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
