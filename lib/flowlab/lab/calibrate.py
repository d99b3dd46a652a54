"""Calibration: how stable each claim's verdict is over seed sets and float paths, before it is pinned.

Each selected notebook (default: every notebook with an order claim) runs once per seed, as papermill
parameters ``seed`` and ``mode``, in its own papermill process whose results, figures and executed
notebook go to ``build/calibration/<mode>/<float path>/<notebook>/seed-<s>/``, never over the committed
``notebooks/``, ``results/`` or ``figures/``. The *native* float path is torch's own choice of kernels;
*default* sets ``ATEN_CPU_CAPABILITY=default`` (ATen's non-vectorised kernels): the same maths rounded
differently. After each run its record (every claim's verdict, the order claims' check outcomes, the
seconds, threads and torch's CPU capability in force) is added to ``results/calibration/<mode>.json``;
a (notebook, seed, float path) already recorded is skipped, so a killed calibration resumes where it
stopped. A run that raised is recorded as failed with the error and retried only with ``--retry-failed``.
``--jobs N`` runs N notebooks at once, each kernel on one thread; ``--record PATH`` records elsewhere.

    python -m flowlab.lab.calibrate --nb 03,06 --seeds 0-9                      # make calibrate NB=03,06
    python -m flowlab.lab.calibrate --nb 06 --seeds 0-9 --float-path default --jobs 2
    python -m flowlab.lab.calibrate --report [--mode quick]                     # counts and implied pins

The report gives, per order claim, the outcome counts by float path and the pin they imply: an outcome
that at least 90% of at least 10 seed sets gave is pinnable; otherwise the claim is seed-dependent
(with its counts). For exact and stat claims it gives how many seeds failed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from flowlab.files import repo_root, write_json_atomic
from flowlab.lab import manifest, registry, specs
from flowlab.lab.params import CELL_TIMEOUT, INJECTED_TAG, MODES, declared_parameters
from flowlab.measure.orders import OUTCOMES

FLOAT_PATHS = {"native": None, "default": "default"}  # float path -> ATEN_CPU_CAPABILITY (None: unset)
MIN_RUNS = 10  # seed sets needed, over all float paths, before any pin is implied
NOT_ENOUGH = "not enough runs"
_LEGACY_FAILED_ORDER = "not reproduced at this scale"  # an order check saved before checks had an outcome


def _fail(message: str):
    raise SystemExit(f"calibrate: {message}")  # a bad argument: what was wrong and what is expected


def parse_seeds(spec: str) -> list[int]:
    """``0-9``, ``0,3,5``, ``10-12`` or a mix (``0-4,7``) -> sorted distinct seeds."""
    seeds = set()
    for item in str(spec).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", item)
        if not m:
            _fail(f"bad --seeds {spec!r}: {item.strip()!r} is not a seed; expected a range like 0-9, "
                  "a list like 0,3,5, or both (0-4,7), of integers >= 0")
        lo, hi = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if hi < lo:
            _fail(f"bad --seeds {spec!r}: the range {lo}-{hi} runs backwards; write it as {hi}-{lo}")
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def parse_float_paths(spec: str) -> list[str]:
    paths = [p.strip() for p in str(spec).split(",") if p.strip()]
    for p in paths or [spec]:
        if p not in FLOAT_PATHS:
            _fail(f"unknown float path {p!r}; expected one of {', '.join(FLOAT_PATHS)} (or both, comma separated)")
    return list(dict.fromkeys(paths))


def select_notebooks(nb: str | None, notebook_dir: Path) -> list[Path]:
    """The notebooks named by two-digit numbers (``03,06``), or by default those with an order claim."""
    available = {p.stem[:2]: p for p in sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb"))}
    ordered = {c.notebook for c in manifest.CLAIMS if c.kind == "order"}
    chosen = [] if nb else [p for p in available.values() if p.stem in ordered]
    for w in (w.strip() for w in (nb or "").split(",") if nb):
        if not re.fullmatch(r"\d\d", w):
            _fail(f"bad --nb {nb!r}: {w!r} is not a notebook number; expected two-digit numbers like 03,06")
        if w not in available:
            _fail(f"no notebook numbered {w} in {notebook_dir}; available: {', '.join(available) or 'none'}")
        if available[w] not in chosen:
            chosen.append(available[w])
    for p in chosen:
        missing = {"mode", "seed"} - set(declared_parameters(p))
        if missing:
            _fail(f"{p.stem} has no parameter {', '.join(sorted(missing))} in its parameters cell; "
                  "calibration sets mode and seed")
    return chosen


def load(mode: str = "quick", path: Path | None = None) -> dict:
    """The calibration record of ``mode``: ``{"mode": mode, "runs": [run record, ...]}`` (empty if none)."""
    path = Path(path) if path else repo_root() / "results" / "calibration" / f"{mode}.json"
    return json.loads(path.read_text()) if path.is_file() else {"mode": mode, "runs": []}


def _runs(records) -> list[dict]:
    return [r for r in (records["runs"] if isinstance(records, dict) else records) if r.get("status") == "ok"]


def outcome_counts(records, claim_id: str, float_path: str | None = None) -> dict[str, int]:
    """``{verdict: runs}`` of ``claim_id`` over the finished runs (of one float path, or all), most first."""
    got = Counter(r["claims"][claim_id]["verdict"] for r in _runs(records)
                  if claim_id in r["claims"] and float_path in (None, r["float_path"]))
    return dict(got.most_common())


def implied_pin(counts: dict[str, int]):
    """The pin these counts imply: the outcome (a str) that at least ``specs.AGREEMENT`` of at least
    ``MIN_RUNS`` runs gave; else a ``specs.SeedDependent`` with the counts (equal to the registry's
    ``seed_dependent(...)`` of the same counts); with fewer than ``MIN_RUNS`` runs, :data:`NOT_ENOUGH`."""
    total = sum(counts.values())
    if total < MIN_RUNS:
        return NOT_ENOUGH
    top, n = max(counts.items(), key=lambda kv: kv[1])
    if n >= specs.AGREEMENT * total:
        return top
    full = {**{o: 0 for o in OUTCOMES}, **counts}
    return specs.SeedDependent(tuple(sorted(full.items(), key=lambda kv: -kv[1])))


def failure_rate(records, claim_id: str) -> tuple[int, int]:
    """(runs in which ``claim_id`` was not reproduced, runs that recorded it), over finished runs."""
    verdicts = [r["claims"][claim_id]["verdict"] for r in _runs(records) if claim_id in r["claims"]]
    return sum(v != "reproduced" for v in verdicts), len(verdicts)


def measured(records, claim_id: str) -> dict:
    """What calibration measured of one claim, as its notebook's results record it: a stat claim's
    ``failures_over_seeds`` (failed runs of all finished ones), an order claim's outcome counts per float
    path; ``{}`` for other kinds. The driver stamps each notebook by exactly this, so a recalibration
    that changes it re-runs the notebook and one that does not leaves it up to date."""
    kind = registry.get(claim_id).kind
    if kind == "stat":
        failed, runs = failure_rate(records, claim_id)
        return {"failures_over_seeds": {"failed": failed, "seeds": runs}}
    if kind == "order":
        return {"outcomes_over_seed_sets": {path: outcome_counts(records, claim_id, path) for path in FLOAT_PATHS}}
    return {}


def measured_for(notebook: str, mode: str = "quick", path: Path | None = None) -> dict[str, dict]:
    """:func:`measured` of every claim of ``notebook`` in ``mode``'s record (what its run reads)."""
    records = load(mode, path)
    return {spec.id: measured(records, spec.id) for spec in registry.claims_for(notebook)}


def _short(outcome: str) -> str:
    return outcome.replace(" at this scale", "")


def report(records) -> list[str]:
    """The report's lines: per claim, counts by float path and the implied pin (or failures)."""
    runs = _runs(records)
    order = {c.id: i for i, c in enumerate(manifest.CLAIMS)}
    ids = sorted({i for r in runs for i in r["claims"]}, key=lambda i: (order.get(i, len(order)), i))
    lines = []
    for cid in ids:
        kind = next(r["claims"][cid]["kind"] for r in runs if cid in r["claims"])
        if kind in ("exact", "stat"):
            lines.append("{} {:<6} failed in {} of {} runs".format(cid, kind, *failure_rate(runs, cid)))
        if kind != "order":
            continue
        by_path = {fp: outcome_counts(runs, cid, fp) for fp in FLOAT_PATHS}
        parts = [f"{fp} " + ", ".join(f"{n}/{sum(c.values())} {_short(o)}" for o, n in c.items())
                 for fp, c in by_path.items() if c]
        counts = outcome_counts(runs, cid)
        pin, total = implied_pin(counts), sum(counts.values())
        if pin == NOT_ENOUGH:
            shown = f"{NOT_ENOUGH} ({total} of {MIN_RUNS})"
        else:
            shown = (str(pin) if isinstance(pin, specs.SeedDependent)
                     else f"pinnable: {pin!r} ({counts[pin]}/{total})")
        lines.append(f"{cid} order  {'; '.join(parts)}  -> {shown}")
    return lines + [f"failed run: {r['notebook']} seed {r['seed']} {r['float_path']}: {r['error']}"
                    for r in (records["runs"] if isinstance(records, dict) else records) if r.get("status") != "ok"]


_CAPABILITY: dict = {}  # ATEN_CPU_CAPABILITY -> torch's CPU capability under it, asked once


def _cpu_capability(env: dict) -> str | None:
    """torch's CPU capability in ``env``, for a run whose results do not say (or that wrote none)."""
    key = env.get("ATEN_CPU_CAPABILITY")
    if key not in _CAPABILITY:
        out = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                             env=env, capture_output=True, text=True)
        _CAPABILITY[key] = out.stdout.strip() or None
    return _CAPABILITY[key]


def _cell_error(executed: Path) -> str | None:
    """The first line of the exception a cell of the executed notebook raised, or None."""
    try:
        cells = [c for c in json.loads(executed.read_text())["cells"] if c["cell_type"] == "code"
                 and INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    except (OSError, ValueError):
        return None  # not written (yet): papermill stopped before saving it
    for number, cell in enumerate(cells, 1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {number} raised {out['ename']}: {(out['evalue'].splitlines() or [''])[0]}"
    return None


def _error_of(executed: Path, stderr: str) -> str:
    """The first line of the error a run stopped on: the failing cell's exception, else papermill's."""
    raised = _cell_error(executed)
    if raised:
        return raised
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return next((ln for ln in reversed(lines) if re.match(r"[\w.]+(Error|Exception|Interrupt)\b", ln)),
                lines[-1] if lines else "papermill failed without a message")


def run_one(nb: Path, seed: int, float_path: str, mode: str, out_root: Path, threads: int | None,
            cell_timeout: int | None) -> dict:
    """Execute ``nb`` once with ``seed`` on ``float_path`` in a papermill process; return its record."""
    where = out_root / mode / float_path / nb.stem / f"seed-{seed}"
    shutil.rmtree(where, ignore_errors=True)
    env = {**os.environ, "FLOWLAB_RESULTS_DIR": str(where / "results"), "FLOWLAB_FIGURES_DIR": str(where / "figures"),
           "FLOWLAB_ROOT": str(repo_root()), "FLOWLAB_QUIET": "1"}
    env.pop("ATEN_CPU_CAPABILITY", None)
    if FLOAT_PATHS[float_path]:
        env["ATEN_CPU_CAPABILITY"] = FLOAT_PATHS[float_path]
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    executed = where / nb.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "papermill", str(nb), str(executed), "-k", "python3", "--cwd", str(nb.parent),
               "--no-progress-bar", "--no-log-output", "-p", "mode", mode, "-p", "seed", str(seed)]
    if cell_timeout:
        command += ["--execution-timeout", str(cell_timeout)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    rec = {"notebook": nb.stem, "seed": seed, "float_path": float_path, "mode": mode, "status": "ok",
           "error": None, "seconds": round(time.perf_counter() - start, 1), "threads": threads,
           "cpu_capability": None, "library_digest": None, "claims": {}}
    results = where / "results" / f"{nb.stem}.json"
    raised = _cell_error(executed)
    # papermill can die at kernel shutdown (a negative status seen with two runs at once on 2 cores)
    # after the last cell saved the results: the run is complete, and it counts
    finished = raised is None and results.is_file()
    if not finished and (done.returncode < 0 or done.returncode == 130):
        return {**rec, "status": "interrupted"}  # stopped from outside: not a result, never recorded
    if (done.returncode != 0 and not finished) or not results.is_file():
        return {**rec, "status": "failed", "cpu_capability": _cpu_capability(env),
                "error": _error_of(executed, done.stderr) if done.returncode != 0 else
                f"ran to the end but wrote no results/{nb.stem}.json (missing book.save())"}
    data = json.loads(results.read_text())
    prov = data.get("provenance", {})
    rec.update(threads=prov.get("threads", threads), library_digest=prov.get("library_digest"),
               cpu_capability=(prov.get("cpu") or {}).get("torch_capability") or _cpu_capability(env))
    for claim in data["claims"]:
        entry = {"kind": claim["kind"], "verdict": claim["verdict"]}
        if claim["kind"] == "order":
            entry["outcomes"] = [c.get("outcome") or ("reproduced" if c["passed"] else _LEGACY_FAILED_ORDER)
                                 for c in claim.get("checks", [])]
        rec["claims"][claim["id"]] = entry
    return rec


def calibrate(notebooks: list[Path], seeds: list[int], *, mode: str = "quick", float_paths=("native",),
              jobs: int = 1, cell_timeout: int | None = None, retry_failed: bool = False,
              out_root: Path | None = None, record: Path | None = None) -> list[dict]:
    """Run every (notebook, seed, float path) not yet recorded; record each as it finishes; return the new records.

    ``cell_timeout`` (seconds a cell may run) defaults to the mode's own, ``CELL_TIMEOUT[mode]``."""
    from tqdm import tqdm

    out_root = Path(out_root) if out_root else repo_root() / "build" / "calibration"
    record = Path(record) if record else repo_root() / "results" / "calibration" / f"{mode}.json"
    book = load(mode, record)
    if book.get("mode") != mode:
        _fail(f"{record} records {book.get('mode')!r} mode, not {mode!r}; give its --mode or another --record")
    seen = {(r["notebook"], r["seed"], r["float_path"]): r for r in book["runs"]}
    todo = [(nb, s, fp) for fp in float_paths for nb in notebooks for s in seeds
            if (nb.stem, s, fp) not in seen or (retry_failed and seen[(nb.stem, s, fp)]["status"] != "ok")]
    print(f"calibrate: {len(todo)} run(s) to do, {len(notebooks) * len(seeds) * len(float_paths) - len(todo)} "
          f"already recorded in {record}", flush=True)
    cell_timeout = CELL_TIMEOUT[mode] if cell_timeout is None else cell_timeout
    new = []
    with ThreadPoolExecutor(max_workers=jobs) as pool, \
            tqdm(total=len(todo), unit="run", disable=bool(os.environ.get("CI")), file=sys.stderr) as bar:
        futures = [pool.submit(run_one, nb, s, fp, mode, out_root, 1 if jobs > 1 else None, cell_timeout)
                   for nb, s, fp in todo]
        try:
            for future in as_completed(futures):
                rec = future.result()
                bar.update()
                orders = " ".join(f"{c} {_short(v['verdict'])}" for c, v in rec["claims"].items()
                                  if v["kind"] == "order")
                tail = {"ok": orders or "(no order claims)", "failed": f"FAILED: {rec['error']}"}.get(
                    rec["status"], "interrupted, not recorded")
                tqdm.write(f"{rec['notebook']}  seed {rec['seed']}  {rec['float_path']}  "
                           f"{rec['seconds']:.1f} s  {tail}")
                if rec["status"] in ("ok", "failed"):
                    seen[(rec["notebook"], rec["seed"], rec["float_path"])] = rec
                    book["runs"] = sorted(seen.values(), key=lambda r: (r["notebook"], r["float_path"], r["seed"]))
                    write_json_atomic(record, book)
                    new.append(rec)
        except KeyboardInterrupt:  # runs not started stay unrecorded: the next call does them
            for future in futures:
                future.cancel()
            raise
    return new


def main(argv: list[str] | None = None, *, notebook_dir: Path | None = None, out_root: Path | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flowlab.lab.calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nb", default=None,
                        help="two-digit notebook numbers, '03,06' (default: those with an order claim)")
    parser.add_argument("--seeds", default="0-9", help="'0-9', '0,3,5' or '10-12' (default 0-9)")
    parser.add_argument("--float-path", default="native",
                        help="native or default (ATEN_CPU_CAPABILITY=default), or both")
    parser.add_argument("--mode", default="quick", help=f"one of {MODES} (default quick)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once (default 1; >1: one thread each)")
    parser.add_argument("--cell-timeout", type=int, default=None,
                        help="seconds per cell (default: 1800 in quick mode, no limit in full mode)")
    parser.add_argument("--retry-failed", action="store_true", help="run again the runs recorded as failed")
    parser.add_argument("--record", type=Path, default=None,
                        help="record file (default results/calibration/<mode>.json)")
    parser.add_argument("--report", action="store_true", help="print the counts and implied pins; run nothing")
    args = parser.parse_args(argv)
    if args.mode not in MODES:
        parser.error(f"unknown mode {args.mode!r}; expected one of {MODES}")
    if args.report:
        print("\n".join(report(load(args.mode, args.record))) or f"calibrate: no runs recorded for {args.mode} mode")
        return 0
    if args.jobs < 1 or (args.cell_timeout is not None and args.cell_timeout <= 0):
        parser.error("--jobs must be at least 1 and --cell-timeout a positive number of seconds")
    seeds, float_paths = parse_seeds(args.seeds), parse_float_paths(args.float_path)
    notebooks = select_notebooks(args.nb, Path(notebook_dir) if notebook_dir else repo_root() / "notebooks")
    new = calibrate(notebooks, seeds, mode=args.mode, float_paths=float_paths, jobs=args.jobs,
                    cell_timeout=args.cell_timeout, retry_failed=args.retry_failed, out_root=out_root,
                    record=args.record)
    return 1 if any(r["status"] != "ok" for r in new) else 0


if __name__ == "__main__":
    sys.exit(main())
