"""The README's benchmark table, generated from ``results/bench.json`` (``make bench`` rewrites both).

Each row: ours and the peer's median milliseconds, the median of the round-by-round ratios with its
quartiles, and the target issue #18 set for that kind of row (a training step at most 0.67 of the peer, a
``log_prob`` at most 0.8, an FFJORD adjoint step at most 1.0 of zuko's; issue #19 a sweep's ensemble at most
1/3 of its seeds trained one by one), met or not. Rows against a
fixed reference (a divergence against one field evaluation) have no target.
"""
from __future__ import annotations

import re

START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def target(name: str, peer: str) -> float | None:
    """The speed target of a row, from its name (None: a row without one)."""
    if peer == "field eval":
        return None
    if peer == "one by one":  # issue #19: an ensemble of a sweep's seeds at 3x the throughput
        return 1 / 3
    if "adjoint" in name:
        return 1.0
    if "train step" in name:
        return 0.67
    return 0.8 if "log_prob" in name else None


def _ms(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def table(bench: dict) -> str:
    m = bench["machine"]
    lines = [f"`make bench` on {m['threads']} CPU threads (torch {m['torch']}, Python {m['python']}). Ratio: ours "
             "over the peer's wall time, the median of the round-by-round ratios of calls alternating in one loop "
             "(quartiles in brackets); below 1 is faster. Generated from `results/bench.json`; do not edit.",
             "", "| benchmark | ours (ms) | peer | peer (ms) | ratio [quartiles] | target |",
             "|---|---|---|---|---|---|"]
    for rows in bench["benchmarks"].values():
        for r in rows:
            goal = target(r["name"], r["peer"])
            spread = f" [{r['ratio_iqr'][0]:.2f}, {r['ratio_iqr'][1]:.2f}]" if "ratio_iqr" in r else ""
            met = "" if goal is None else f"<= {goal:.2g}: {'met' if r['ratio'] <= goal else 'not met'}"
            calls = r.get("ours_field_calls_per_step")
            nfe = f" ({calls:g} field calls a step)" if calls is not None else ""
            lines.append(f"| {r['name']}{nfe} | {_ms(r['ours_ms'])} | {r['peer']} | {_ms(r['peer_ms'])} | "
                         f"{r['ratio']:.2f}{spread} | {met} |")
    return "\n".join(lines)


def replace(readme: str, bench: dict) -> str:
    """``readme`` with its benchmark block regenerated (unchanged if it has none)."""
    if START not in readme or END not in readme:
        return readme
    return re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: f"{START}\n{table(bench)}\n{END}",
                  readme, count=1, flags=re.S)
