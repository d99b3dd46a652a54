"""How claims read: one short line per check, tables for multi-part results, the closing table.

Everything here turns recorded claims (the dictionaries a :class:`~flowlab.lab.claims.ClaimBook`
keeps and saves) into text for a reader: notebooks, ``results/CLAIMS.md`` and the book use the same
functions, so a claim reads the same everywhere. Tables are shown as HTML with a plain-text twin,
the one that nbval compares and that a terminal shows.
"""
from __future__ import annotations

import html
import math
from typing import Any, Sequence

MARK = {True: "✓", False: "✗"}
MARK_COLUMN = "in band"


def short(value: Any, digits: int = 4) -> str:
    """A measured value in a few characters."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value == 0 or not math.isfinite(value):
            return f"{value:g}"
        return f"{value:.{digits}g}"
    if isinstance(value, (list, tuple)):
        shown = [short(v, 3) for v in value]
        return "[" + ", ".join(shown if len(shown) <= 4 else shown[:3] + ["…", shown[-1]]) + "]"
    if isinstance(value, dict):
        shown = [f"{k}: {short(v, 3)}" for k, v in value.items()]
        return "{" + ", ".join(shown if len(shown) <= 3 else shown[:2] + ["…", shown[-1]]) + "}"
    return str(value)


def bracket(expected: Any, tolerance: Any) -> str:
    """``[expected ± tolerance]``; ``[= expected]`` for an exact match, ``[> 0, margin 0.007]`` for an
    inequality (its tolerance the margin it must clear), ``[expected]`` without a tolerance."""
    if tolerance is None:
        return f"[{short(expected)}]"
    if isinstance(expected, str):
        return f"[{expected}, margin {short(tolerance, 2)}]" if tolerance else f"[{expected}]"
    if tolerance == 0:
        return f"[= {short(expected)}]"
    return f"[{short(expected)} ± {short(tolerance, 2)}]"


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


# A check's line is never cut: what was checked is read whole (terminals and the book wrap the line).
def check_line(passed: bool, claim_id: str, what: str, measured: Any, expected: Any, tolerance: Any) -> str:
    """``✓ C08 LU log-det vs slogdet  3e-16  [0 ± 1e-12]``."""
    return f"{MARK[bool(passed)]} {claim_id} {what}  {short(measured)}  {bracket(expected, tolerance)}"


def rows_line(passed: bool, claim_id: str, what: str, within: str, expected: Any, tolerance: Any) -> str:
    """``✓ C29 mean and variance z-scores per setup: 16/16 within 0 ± 3.42``."""
    return f"{MARK[bool(passed)]} {claim_id} {what}: {within} within {short(expected)} ± {short(tolerance, 3)}"


OUTCOME_MARK = {"reproduced": "✓", "contradicted": "✗", "inconclusive at this scale": "○"}


def order_line(outcome: str, claim_id: str, what: str) -> str:
    """``✓ C11 1x1 conv beats reverse — reproduced``."""
    return f"{OUTCOME_MARK[outcome]} {claim_id} {what} — {outcome}"


def rows_of(measured: Any) -> list[dict] | None:
    """A multi-part measurement as table rows: a dict of dicts (row name -> columns), else None."""
    if isinstance(measured, dict) and measured and all(isinstance(v, dict) for v in measured.values()):
        return [{"": name, **cols} for name, cols in measured.items()]
    return None


def _columns(rows: Sequence[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    return columns


def table_text(rows: Sequence[dict], columns: Sequence[str] | None = None, width: int = 28,
               name_width: int = 40) -> str:
    """The plain-text twin: cells cut at ``width`` characters, the first (row name) at ``name_width``."""
    columns = list(columns or _columns(rows))
    widths_cap = [name_width] + [width] * (len(columns) - 1)
    cells = [[fit(str(c), w) for c, w in zip(columns, widths_cap)]]
    cells += [[fit(short(row.get(c, "")), w) for c, w in zip(columns, widths_cap)] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def table_html(rows: Sequence[dict], columns: Sequence[str] | None = None, caption: str = "") -> str:
    columns = list(columns or _columns(rows))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(short(row.get(c, '')))}</td>" for c in columns)
                   + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="flowlab-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def show_table(rows: Sequence[dict], columns: Sequence[str] | None = None, caption: str = "") -> None:
    """Display a table as HTML with its plain-text twin (plain text only outside IPython)."""
    text = (caption + "\n" if caption else "") + table_text(rows, columns)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with the kernel
        print(text)
        return
    if get_ipython() is None:
        print(text)
        return
    display({"text/html": table_html(rows, columns, caption), "text/plain": text}, raw=True)


# ----------------------------------------------------------------------------------- a claim's key
def _closeness(check: dict) -> float:
    """How close a passed check came to its tolerance (1 = at the edge); -1 when not numeric."""
    try:
        gap = abs(float(check["measured"]) - float(check["expected"]))
        tol = float(check["tolerance"])
    except (TypeError, ValueError, KeyError):
        return -1.0
    return gap / tol if tol > 0 else (0.0 if gap == 0 else math.inf)


def failed_parts(claim: dict) -> list[str]:
    """What failed: each failed check, with the rows that fell outside for a check by rows."""
    return [c["what"] + (f" ({', '.join(c['failed_rows'])})" if c.get("failed_rows") else "")
            for c in claim["checks"] if not c["passed"]]


def key_result(claim: dict) -> str:
    """A claim's number: the notebook's chosen key, else the check that came closest to failing."""
    if claim.get("key"):
        return claim["key"]
    checks = claim["checks"]
    if not checks:
        return ""
    failing = [c for c in checks if not c["passed"]]
    if claim["kind"] == "order":
        return order_key(failing[0] if failing else checks[0])
    chosen = failing[0] if failing else max(checks, key=_closeness)
    if chosen.get("within"):
        return f"{chosen['within']} within {bracket(chosen['expected'], chosen['tolerance'])}"
    return f"{short(chosen['measured'])} {bracket(chosen['expected'], chosen.get('tolerance'))}"


def why_not(claim: dict) -> str:
    """Why a claim is not reproduced: an order claim's deciding numbers, else its failed checks."""
    failing = [c for c in claim["checks"] if not c["passed"]]
    if claim["kind"] == "order" and failing:
        return order_key(failing[0])
    return "; ".join(failed_parts(claim)) or "not recorded"


def order_key(check: dict) -> str:
    """An order check's deciding numbers: its first comparison that did not come out as claimed (else
    its first), as ``outcome: name Δ -0.013, 95% interval [-0.05, 0.021], claimed Δ < 0``."""
    rows = check.get("measured") if isinstance(check.get("measured"), dict) else {}
    if "outcome" not in check or not rows:
        return f"{'holds' if check['passed'] else 'fails'}: {check['what']}"
    name = next((n for n, r in rows.items() if r.get("outcome") != "reproduced"), next(iter(rows)))
    row = rows[name]
    interval = next((f"{k} {v}" for k, v in row.items() if k.endswith("interval")), "")
    return f"{check['outcome']}: {name} Δ {row['Δ mean']}, {interval}, claimed {row['claimed']}"


def published(claim: dict) -> str:
    rows = [d for d in claim.get("display", []) if d.get("published") is not None]
    return "; ".join(f"{d['what']}: {short(d['published'])}"
                     + (f" ({d['source']})" if d.get("source") else "") + f", ours {short(d['ours'])}" for d in rows)


def closing_rows(claims: Sequence[dict], scale: dict[str, str]) -> list[dict]:
    """The closing table: claim, what the lecture says, verdict (and what failed), ours, scale, published."""
    out = []
    for c in claims:
        verdict = c["verdict"]
        if failed_parts(c) and c["kind"] != "order":
            verdict += " (failed: " + "; ".join(failed_parts(c)) + ")"
        out.append({"claim": c["id"], "the lecture says": c["statement"], "verdict": verdict,
                    "ours": key_result(c), "scale": scale.get(c["id"]) or scale.get("") or "",
                    "published": published(c)})
    return out
