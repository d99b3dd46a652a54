"""The driver behind ``make reproduce``: run the notebooks headlessly, regenerate every output.

For each notebook (all of ``notebooks/NN_*.ipynb``, or those named by ``--nb``: two-digit numbers
such as ``03`` or full names, comma separated) it:

1. skips it when nothing it depends on changed since its last successful run: its code cells, the
   sources of the library modules it imports (followed through the library's own imports), the mode,
   the parameters and the results of the notebooks it reads are hashed into ``results/stamps.json``
   (paths, times and the commit play no part, so a fresh clone of current references runs nothing);
2. executes it with papermill, in quick or full mode, with a per-cell timeout, writing every figure
   and result into a staging folder;
3. only if the whole notebook succeeded, moves the executed notebook, figures and results into
   place, and records how long it took in ``results/runs.json`` (the only file a re-run with nothing
   changed rewrites). A failure leaves the previous outputs untouched and names the failing cell.

Quick mode runs ``--jobs`` notebooks side by side (default: one per CPU core, at most 4), each kernel on
one thread, so that a results file is the same however many run at once; the longest (by the last
run) start first, a notebook starts only after those it reads, and one whose claims rest on timings
(``timed`` in the manifest) runs with nothing beside it, on every core. Full mode runs one at a time on
every core.

Then it regenerates ``results/CLAIMS.md`` and the claims table in ``README.md`` and prints a
summary: claims reproduced out of the total, failures named. Quick mode writes ``notebooks/``,
``results/`` and ``figures/``; full mode writes ``notebooks/full/``, ``results/full/``, ``figures/full/``.

A parameter that differs from the notebook's declared default (``-p seed=3``; ``seed=0`` is the
default) makes the run interactive: the executed notebooks, results and figures go to
``build/interactive/`` (``notebooks/``, ``results/``, ``figures/``, with ``full/`` in full mode) and
nothing committed is touched: not the references, ``CLAIMS.md``, the README, the stamps or run times.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
from functools import partial
from pathlib import Path

from flowlab.files import repo_root, write_json_atomic
from flowlab.lab import calibrate, manifest
from flowlab.lab.executed import strip_volatile
from flowlab.lab.params import (
    CELL_TIMEOUT,
    INJECTED_TAG,
    MODES,
    declared_defaults,
    declared_parameters,
    did_you_mean,
    is_default,
)
from flowlab.lab.provenance import imported_modules, modules_digest
from flowlab.lab.schedule import run_side_by_side
from flowlab.lab.tables import problems, write_tables


def notebook_paths(root: Path) -> list[Path]:
    return sorted(p for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


INTERACTIVE = Path("build") / "interactive"  # where a run with non-default parameters writes


def select(paths: list[Path], nb: str | None) -> list[Path]:
    """The notebooks ``nb`` names: exact two-digit numbers (``03``) or full names
    (``03_glow_vs_realnvp``), comma separated. Nothing is matched by prefix: ``1`` is refused, not
    taken for 10-17."""
    if not nb:
        return paths
    names = ", ".join(p.stem for p in paths) or "none"
    example = paths[0].stem if paths else manifest.NOTEBOOKS[0].name
    expected = f"expected a two-digit number such as 03, or a full name such as {example}, comma separated"
    wanted = [w.strip() for w in nb.split(",") if w.strip()]
    if not wanted:
        raise SystemExit(f"reproduce: NB={nb!r} names no notebook; {expected}; available: {names}")
    chosen = []
    for w in wanted:
        if w.isdigit() and len(w) != 2:
            raise SystemExit(f"reproduce: NB={w!r} is not a two-digit notebook number; {expected}; "
                             f"available: {names}")
        match = [p for p in paths if p.stem == w or (re.fullmatch(r"\d\d", w) and p.stem[:3] == f"{w}_")]
        if not match:
            raise SystemExit(f"reproduce: no notebook matches NB={w!r}; {expected}; available: {names}")
        chosen.extend(m for m in match if m not in chosen)
    return chosen


def parse_params(items: list[str]) -> dict:
    """``key=value`` pairs; values are read as JSON when they parse (numbers, null), else strings."""
    params = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"reproduce: parameter {item!r} must look like name=value")
        key, value = item.split("=", 1)
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def code_sources(nb_path: Path) -> list[str]:
    nb = json.loads(nb_path.read_text())
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb["cells"]
        if c["cell_type"] == "code" and INJECTED_TAG not in c.get("metadata", {}).get("tags", [])
    ]


def _file_sha(path: Path) -> str | None:
    """sha256 of a text file with line endings normalized (a checkout on any machine hashes the same)."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest() if path.is_file() else None


def non_default(nb_path: Path, params: dict) -> dict:
    """The parameters whose value differs from the notebook's declared default (``seed=0`` does not)."""
    defaults = declared_defaults(nb_path)
    return {k: v for k, v in params.items() if k not in defaults or not is_default(v, defaults[k])}


def input_digest(nb_path: Path, root: Path, mode: str, params: dict) -> str:
    """What a notebook's run depends on, and nothing else: its code cells, the sources of the library
    modules they import (transitively; the driver modules aside), the mode, the parameters that differ
    from their defaults, the results of the notebooks it declares in ``manifest.DEPENDS_ON``, and what
    the calibration record says of its claims (which its results carry).
    Only names, relative contents and sorted keys go in: no paths, times or commits."""
    sub = "" if mode == "quick" else mode
    code = code_sources(nb_path)
    deps = {dep: _file_sha(root / "results" / sub / f"{dep}.json")
            for dep in manifest.DEPENDS_ON.get(nb_path.stem, ())}
    measured = calibrate.measured_for(nb_path.stem, mode, root / "results" / "calibration" / f"{mode}.json")
    payload = json.dumps({"stamp": 3, "code": code, "modules": modules_digest(root, imported_modules(root, code)),
                          "mode": mode, "params": non_default(nb_path, params), "depends_on": deps,
                          "calibration": measured}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def run_one(nb_path: Path, root: Path, mode: str, params: dict, cell_timeout: int | None,
            dest: Path | None = None, one_thread: bool = False) -> tuple[bool, str]:
    """Execute one notebook into a staging folder (its kernel on one thread with ``one_thread``); on success
    move its outputs into place: under ``dest`` (``notebooks/``, ``results/``, ``figures/``), the repository
    itself by default."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    stage = root / "build" / "staging" / nb_path.stem
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "results").mkdir(parents=True)
    (stage / "figures").mkdir(parents=True)
    staged_nb = stage / nb_path.name
    env = dict(FLOWLAB_RESULTS_DIR=str(stage / "results"), FLOWLAB_FIGURES_DIR=str(stage / "figures"),
               FLOWLAB_ROOT=str(root), FLOWLAB_QUIET="1")
    if one_thread:
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env_before = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        papermill.execute_notebook(
            str(nb_path), str(staged_nb), parameters={"mode": mode, **params},
            kernel_name="python3", cwd=str(root / "notebooks"), execution_timeout=cell_timeout,
            progress_bar=False, log_output=False, report_mode=False,
            # the kernel's own start-up chatter (transport warnings) is not the notebook's output
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except PapermillExecutionError as err:
        failed = root / "build" / "failed" / nb_path.name
        failed.parent.mkdir(parents=True, exist_ok=True)
        if staged_nb.exists():
            shutil.copyfile(staged_nb, failed)
        # papermill counts the injected-parameters cell; report the cell as the reader sees it.
        return False, (f"cell {err.exec_count} raised {err.ename}: {err.evalue} "
                       f"(executed copy: {failed.relative_to(root)})")
    except Exception as err:  # kernel died, timeout, unreadable notebook
        return False, _why_it_stopped(err)
    finally:
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    result_files = list((stage / "results").glob("*.json"))
    if not any(f.stem == nb_path.stem for f in result_files):
        return False, f"ran to the end but wrote no results/{nb_path.stem}.json (missing book.save())"
    strip_volatile(staged_nb)
    sub = "" if mode == "quick" else mode
    dest = dest or root
    targets = {"results": dest / "results" / sub, "figures": dest / "figures" / sub}
    for kind, target in targets.items():
        target.mkdir(parents=True, exist_ok=True)
        for f in (stage / kind).iterdir():
            os.replace(f, target / f.name)
    nb_target = dest / "notebooks" / sub / nb_path.name
    nb_target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged_nb, nb_target)
    shutil.rmtree(stage, ignore_errors=True)
    return True, ""


RUNS_FILE = "runs.json"  # the timing of each notebook's last run: the one file a re-run always changes


def run_record(seconds: float, jobs: int = 1) -> dict:
    """How long a notebook took, and on what: wall seconds, CPUs, the accelerator if any, and how many
    notebooks the driver ran side by side."""
    import torch

    return {"seconds": round(seconds, 1), "cpus": os.cpu_count(), "jobs": jobs,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def one_thread(stem: str, mode: str, timed) -> bool:
    """Whether a notebook's kernel runs on one thread: in quick mode, so that it gives the same numbers alone or
    beside others, unless it is ``timed`` (those always run alone, on every core)."""
    return mode == "quick" and stem not in timed


def _execute(stem: str, root: Path, mode: str, params: dict, cell_timeout: int | None,
             timed: tuple[str, ...]) -> tuple[bool, str, float]:
    """:func:`run_one` of ``notebooks/<stem>.ipynb``, timed: what a worker process of the driver runs (given
    the manifest's ``timed`` notebooks: a worker imports its own manifest)."""
    start = time.perf_counter()
    ok, why = run_one(root / "notebooks" / f"{stem}.ipynb", root, mode, params, cell_timeout,
                      one_thread=one_thread(stem, mode, timed))
    return ok, why, time.perf_counter() - start


def default_jobs(mode: str) -> int:
    return min(os.cpu_count() or 1, 4) if mode == "quick" else 1


def claim_counts(results_file: Path) -> tuple[int, int, list[str]]:
    data = json.loads(results_file.read_text())
    claims = data["claims"]
    done = sum(c["verdict"] == "reproduced" for c in claims)
    bad = [f"{c['id']} {c['verdict']}" for c in claims
           if c["kind"] in ("exact", "stat") and c["verdict"] != "reproduced"]
    return done, len(claims), bad


def _why_it_stopped(err: Exception) -> str:
    why = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
    if isinstance(err, TimeoutError):  # nbclient's CellTimeoutError is one
        why += " Give its cells longer with --cell-timeout SECONDS (CELL_TIMEOUT=SECONDS in make)."
    return why


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m flowlab.lab.reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="quick", help=f"one of {MODES} (default quick)")
    parser.add_argument("--nb", default=None,
                        help="run only these notebooks: two-digit numbers '03' or '03,09', or full names")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a papermill parameter for the selected notebooks (repeatable); a value other "
                             "than the notebook's default writes to build/interactive/, not the references")
    parser.add_argument("--force", action="store_true", help="run even when nothing changed")
    parser.add_argument("--cell-timeout", type=int, default=None,
                        help="seconds per cell (default: 1800 in quick mode, no limit in full mode)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="notebooks run side by side (default: quick mode one per core, at most 4; full 1)")
    args = parser.parse_args(argv)
    if args.mode not in MODES:
        parser.error(f"unknown mode {args.mode!r}; expected one of {MODES}")
    if args.cell_timeout is not None and args.cell_timeout <= 0:
        parser.error(f"--cell-timeout must be a positive number of seconds, got {args.cell_timeout}")
    args.cell_timeout = args.cell_timeout or CELL_TIMEOUT[args.mode]
    if args.jobs is not None and args.jobs <= 0:
        parser.error(f"--jobs must be a positive number of notebooks, got {args.jobs}")
    args.jobs = args.jobs or default_jobs(args.mode)
    args.params = parse_params(args.param)
    if "mode" in args.params:
        parser.error("give the mode with --mode (MODE=full in make), not as a parameter")
    return args


def _check_parameters(paths: list[Path], params: dict) -> None:
    for nb_path in paths:
        known = declared_parameters(nb_path)
        unknown = sorted(set(params) - set(known))
        if unknown:
            hint = did_you_mean(unknown[0], known) if len(unknown) == 1 else ""
            raise SystemExit(f"reproduce: {nb_path.stem} has no parameter {', '.join(unknown)}{hint}; "
                             f"it takes {', '.join(known)}")


def _run_all(paths: list[Path], root: Path, args) -> tuple[int, list[str]]:
    """Run every selected notebook that is not up to date, ``args.jobs`` side by side
    (:mod:`flowlab.lab.schedule`); return (notebooks run, failures). A notebook's stamp is taken just
    before it would start, after the notebooks it reads have finished, so that their fresh results count."""
    sub = "" if args.mode == "quick" else args.mode
    stamps_path = root / "results" / sub / "stamps.json"
    stamps = json.loads(stamps_path.read_text()) if stamps_path.is_file() else {}
    runs_path = root / "results" / sub / RUNS_FILE
    runs = json.loads(runs_path.read_text()) if runs_path.is_file() else {}
    jobs = min(args.jobs, len(paths))
    by_stem = {p.stem: p for p in paths}
    order = list(by_stem) if jobs == 1 else sorted(by_stem, key=lambda n: -runs.get(n, {}).get("seconds", 0.0))
    failures, digests, started = [], {}, []

    def start(stem: str) -> bool:
        digest = digests[stem] = input_digest(by_stem[stem], root, args.mode, args.params)
        if not args.force and stamps.get(stem) == digest and (root / "results" / sub / f"{stem}.json").is_file():
            print(f"[up to date] {stem}", flush=True)
            return False
        print(f"[running]    {stem} ({args.mode}) ...", flush=True)
        started.append(stem)
        return True

    def finish(stem: str, outcome: tuple[bool, str, float]) -> None:
        ok, why, seconds = outcome
        if not ok:
            failures.append(f"{stem}: {why}")
            print(f"[FAILED]     {stem}  {seconds:6.1f} s  {why}", flush=True)
            return
        done, total, bad = claim_counts(root / "results" / sub / f"{stem}.json")
        stamps[stem] = digests[stem]
        write_json_atomic(stamps_path, dict(sorted(stamps.items())))
        runs[stem] = run_record(seconds, jobs)
        write_json_atomic(runs_path, dict(sorted(runs.items())))
        print(f"[done]       {stem}  {seconds:6.1f} s  {done}/{total} claims reproduced"
              + (f"  FAILED: {', '.join(bad)}" if bad else ""), flush=True)

    run_side_by_side(order, jobs=jobs, alone=manifest.TIMED, depends_on=manifest.DEPENDS_ON, start=start,
                     execute=partial(_execute, root=root, mode=args.mode, params=args.params, timed=manifest.TIMED,
                                     cell_timeout=args.cell_timeout), finish=finish)
    return len(started), failures


def _run_interactive(paths: list[Path], root: Path, args) -> int:
    """Run every selected notebook with non-default parameters into ``build/interactive/``; nothing
    committed is read as a stamp or written. Returns the exit status."""
    dest = root / INTERACTIVE
    sub = "" if args.mode == "quick" else args.mode
    changed = {k: v for nb in paths for k, v in non_default(nb, args.params).items()}
    where = ", ".join((INTERACTIVE / kind / sub).as_posix() + "/" for kind in ("notebooks", "results", "figures"))
    print(f"non-default parameters ({', '.join(f'{k}={v!r}' for k, v in changed.items())}): the executed "
          f"notebooks, results and figures go to {where} not over the committed references (notebooks/, "
          f"results/, figures/, CLAIMS.md, the README, stamps and run times are left as they are)", flush=True)
    failures, failed_claims = [], False
    start_all = time.perf_counter()
    for nb_path in paths:
        print(f"[running]    {nb_path.stem} ({args.mode}, interactive) ...", flush=True)
        start = time.perf_counter()
        ok, why = run_one(nb_path, root, args.mode, args.params, args.cell_timeout, dest=dest,
                          one_thread=one_thread(nb_path.stem, args.mode, manifest.TIMED))
        seconds = time.perf_counter() - start
        if not ok:
            failures.append(f"{nb_path.stem}: {why}")
            print(f"[FAILED]     {nb_path.stem}  {seconds:6.1f} s  {why}", flush=True)
            continue
        results_file = dest / "results" / sub / f"{nb_path.stem}.json"
        done, total, bad = claim_counts(results_file)
        failed_claims |= bool(bad)
        print(f"[done]       {nb_path.stem}  {seconds:6.1f} s  {done}/{total} claims reproduced"
              + (f"  FAILED: {', '.join(bad)}" if bad else "")
              + f"  -> {(dest / 'notebooks' / sub / nb_path.name).relative_to(root)}", flush=True)
        for line in problems(nb_path.stem, json.loads(results_file.read_text())):
            print(f"  claim note: {line}", flush=True)
    print(f"\n{len(paths)} notebook(s) run in {time.perf_counter() - start_all:.1f} s with non-default "
          f"parameters; outputs in {INTERACTIVE}/, committed references untouched")
    for line in failures:
        print(f"  notebook failed: {line}")
    return 1 if failures or failed_claims else 0


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    root = repo_root()
    paths = select(notebook_paths(root), args.nb)
    if not paths:
        print("reproduce: no notebooks in notebooks/")
        return 0
    _check_parameters(paths, args.params)
    if any(non_default(nb_path, args.params) for nb_path in paths):
        return _run_interactive(paths, root, args)
    start_all = time.perf_counter()
    ran, failures = _run_all(paths, root, args)
    summary = write_tables(root, args.mode)
    print(f"\n{ran} notebook(s) run in {time.perf_counter() - start_all:.1f} s; "
          f"claims reproduced: {summary['reproduced']}/{summary['total']}")
    for line in summary["problems"]:
        print(f"  claim problem: {line}")
    for line in failures:
        print(f"  notebook failed: {line}")
    return 1 if failures or summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
