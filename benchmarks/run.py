"""`make bench`: run every benchmarks/bench_*.py and write results/bench.json.

Each module defines ``run(quick: bool) -> list[dict]`` returning rows made by ``timing.row``.
Benchmarks time things; they never assert, and nothing here is a test.
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import readme  # noqa: E402
from flowlab.files import repo_root, write_bytes_atomic, write_json_atomic  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="larger sizes and more repeats")
    parser.add_argument("--only", default=None, help="run only bench_<ONLY>.py")
    args = parser.parse_args(argv)
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        modules = [m for m in modules if m == f"bench_{args.only}"]
        if not modules:
            parser.error(f"no benchmark named bench_{args.only}.py in {HERE}")
    path = repo_root() / "results" / "bench.json"
    # --only reruns some modules and keeps the other rows of the last run
    kept = json.loads(path.read_text())["benchmarks"] if args.only and path.is_file() else {}
    out = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                       "threads": torch.get_num_threads(), "processor": platform.machine()},
           "benchmarks": kept}
    for name in modules:
        print(f"== {name}", flush=True)
        rows = importlib.import_module(name).run(quick=not args.full)
        for r in rows:
            print(f"  {r['name']:<40} ours {r['ours_ms']:>10.3f} ms   {r['peer']:<12} "
                  f"{r['peer_ms']:>10.3f} ms   ratio {r['ratio']:.2f}", flush=True)
        out["benchmarks"][name.removeprefix("bench_")] = rows
    write_json_atomic(path, out)
    readme_path = repo_root() / "README.md"
    write_bytes_atomic(readme_path, readme.replace(readme_path.read_text(), out).encode())
    print(f"wrote {path} and the benchmark table of {readme_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
