"""Notebooks run side by side: the order and the concurrency of ``make reproduce``.

A notebook starts once every notebook it reads (``depends_on``) has finished, the longest first so that
none is left to run alone at the end; one whose claims rest on timings (``alone``) starts only when
nothing else runs, and nothing starts beside it. Each runs in a worker process of its own (spawned:
the driver's environment variables are per process, and a forked torch is not safe).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any

__all__ = ["run_side_by_side"]


def run_side_by_side(names: Sequence[str], *, jobs: int, alone: Sequence[str], depends_on: dict[str, Sequence[str]],
                     start: Callable[[str], bool], execute: Callable[[str], Any],
                     finish: Callable[[str, Any], None]) -> None:
    """Run ``execute(name)`` for each of ``names`` in that order of preference, at most ``jobs`` at once.

    ``start(name)`` is called in this process just before ``name`` would start, once what it reads has
    finished; it returns False to skip it. ``finish(name, result)`` is called here with what ``execute``
    returned. ``execute`` must be picklable when ``jobs > 1`` (a module-level function, or a partial of one).
    """
    waiting, running, alone = list(names), {}, set(alone)

    def startable(name: str) -> bool:
        unfinished = set(waiting) | set(running.values())
        if unfinished & set(depends_on.get(name, ())):
            return False
        return not (alone & set(running.values())) and (name not in alone or not running)

    pool = ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) if jobs > 1 else None
    try:
        while waiting or running:
            ready = [n for n in waiting if startable(n)]
            if not ready and not running:
                raise RuntimeError(f"cannot order {waiting}: what they read never finishes (a cycle in depends_on?)")
            for name in ready:
                if len(running) >= jobs:
                    break
                if not startable(name):  # what just started (a timed one) holds it back; a later one may go
                    continue
                waiting.remove(name)
                if not start(name):
                    continue
                if pool is None:
                    finish(name, execute(name))
                else:
                    running[pool.submit(execute, name)] = name
            if running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    finish(running.pop(future), future.result())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
