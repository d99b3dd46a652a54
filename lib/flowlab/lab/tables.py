"""Reading the results files back: the checks the claims test makes, and the generated tables.

``problems`` is the one place that decides whether a notebook's recorded claims are acceptable:
every claim registered for the notebook recorded, exact and stat claims reproduced, order claims
with the verdict pinned for the mode (or any honest verdict while none is pinned).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from flowlab.files import write_bytes_atomic
from flowlab.lab import manifest, registry, report, specs
from flowlab.measure.orders import OUTCOMES, RULE

README_START = "<!-- claims-table:start -->"
README_END = "<!-- claims-table:end -->"
STATUS_START = "<!-- status-table:start -->"
STATUS_END = "<!-- status-table:end -->"


def load_results(folder: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(Path(folder).glob("[0-9][0-9]_*.json")):
        out[path.stem] = json.loads(path.read_text())
    return out


def problems(notebook: str, data: dict) -> list[str]:
    """What is wrong with one notebook's results (empty when all is well)."""
    mode = data.get("provenance", {}).get("mode", "quick")
    recorded = {c["id"]: c for c in data.get("claims", [])}
    found = []
    for spec in registry.claims_for(notebook):
        claim = recorded.get(spec.id)
        if claim is None or claim.get("verdict") in (None, "not recorded") or not claim.get("checks"):
            found.append(f"{spec.id} ({notebook}) was never recorded")
            continue
        verdict = claim["verdict"]
        carried = {"stat": ("false_alarm", "failures_over_seeds"), "order": ("outcomes_over_seed_sets",)}
        lacking = [key for key in carried.get(spec.kind, ()) if key not in claim]
        if mode == "quick" and lacking:  # quick mode is the calibrated one: its results carry the rates
            found.append(f"{spec.id} ({notebook}) lacks {', '.join(lacking)}: results written before calibration; "
                         "re-run the notebook")
        if verdict != registry.verdict(spec.kind, claim["checks"]):
            found.append(f"{spec.id} ({notebook}) records verdict {verdict!r}, but its checks give "
                         f"{registry.verdict(spec.kind, claim['checks'])!r}")
            continue
        if spec.kind in ("exact", "stat") and verdict != "reproduced":
            failed = [c["what"] for c in claim["checks"] if not c["passed"]]
            found.append(f"{spec.id} ({notebook}, {spec.kind}) {verdict}: {'; '.join(failed)}")
        elif spec.kind == "order":
            pinned = spec.pinned.get(mode)
            if isinstance(pinned, str) and verdict != pinned:
                found.append(f"{spec.id} ({notebook}, order) is '{verdict}' but '{pinned}' is pinned for {mode} mode")
            elif verdict not in (*OUTCOMES, specs.LEGACY_NOT_REPRODUCED):
                found.append(f"{spec.id} ({notebook}, order) has verdict {verdict!r}")
    unknown = sorted(set(recorded) - {s.id for s in registry.claims_for(notebook)})
    found.extend(f"{cid} recorded by {notebook} but registered elsewhere" for cid in unknown)
    return found


KIND_LEGEND = (
    "**Kinds.** *exact*: a mathematical identity, asserted to a tight numerical tolerance. "
    "*stat*: a statistical statement, asserted within a band derived from the sample size (its false-alarm "
    "rate verified by simulation in the tests; a correct method still fails it at that rate, shown beside it). "
    "*order*: an empirical ordering from training (\"A beats B\") over several seeds, decided by one rule: "
    f"{RULE}. *Inconclusive at this scale*: {registry.INCONCLUSIVE_MEANING.split(': ', 1)[1]}. "
    f"*Seed-dependent*: {registry.SEED_DEPENDENT_MEANING.split(': ', 1)[1]}. Published numbers are shown "
    "beside ours, never asserted against a CPU-scale run."
)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")  # a bare | would end the table cell


def _all_claims(results: dict[str, dict]) -> list[tuple[str, dict]]:
    return [(nb, c) for nb, data in results.items() for c in data["claims"]]


def verdict_text(data: dict, c: dict) -> str:
    """A recorded claim's verdict as the tables print it (see :func:`flowlab.lab.registry.shown_verdict`),
    with what calibration over seeds measured of it, as its results record it: an order claim's outcome
    counts, a stat claim's nominal and measured rates."""
    mode = data.get("provenance", {}).get("mode", "quick")
    shown = registry.shown_verdict(c["id"], c["verdict"], mode)
    extra = stability_text(c, mode)
    return f"{shown} ({extra})" if extra else shown


def stability_text(c: dict, mode: str) -> str:
    """``reproduced in 13 of 13 seed sets`` for an order claim, ``nominal false-alarm rate 1%;
    measured: failed in 2 of 76 seeded runs`` for a stat claim, from the claim's recorded
    ``outcomes_over_seed_sets`` or ``failures_over_seeds`` (results written before calibration have neither)."""
    if c["kind"] == "stat":
        seeds = c.get("failures_over_seeds") or {}
        return registry.rate_text(c["id"], seeds.get("failed"), seeds.get("seeds"))
    if c["kind"] != "order" or isinstance(registry.pin(c["id"], mode), specs.SeedDependent):
        return ""  # a seed-dependent pin carries its counts in the verdict itself
    counts = Counter()
    for by_path in (c.get("outcomes_over_seed_sets") or {}).values():
        counts.update(by_path)
    runs = sum(counts.values())
    if not runs:
        return "not calibrated over seeds"
    top, n = counts.most_common(1)[0]
    return f"{top} in {n} of {runs} seed sets"


def tally(results: dict[str, dict]) -> str:
    """``exact 17/17 · stat 12/12 · order 2/6``: reproduced out of recorded, per kind."""
    claims = [c for _, c in _all_claims(results)]
    parts = []
    for kind in ("exact", "stat", "order"):
        of_kind = [c for c in claims if c["kind"] == kind]
        if of_kind:
            parts.append(f"{kind} {sum(c['verdict'] == 'reproduced' for c in of_kind)}/{len(of_kind)}")
    done = sum(c["verdict"] == "reproduced" for c in claims)
    return " · ".join(parts) + f" — {done} of {len(claims)} reproduced"


def not_reproduced(results: dict[str, dict], link: str) -> list[str]:
    """One line per claim that is not reproduced: what failed, at what scale."""
    lines = []
    for nb, c in _all_claims(results):
        if c["verdict"] == "reproduced":
            continue
        failed = report.why_not(c)
        scale = c.get("scale") or ""
        lines.append(f"- **{c['id']}** ([{nb}]({link}{nb}.ipynb)) {verdict_text(results[nb], c)}: {_cell(failed)}"
                     + (f" — at {_cell(scale)}" if scale else ""))
    return lines


def full_text(full: dict[str, dict] | None, nb: str, claim_id: str, *, key: bool = False) -> str:
    """The full-mode verdict of a claim (and its key result, with ``key``) from the full-mode results,
    or that no full-mode run is committed."""
    claim = next((c for c in (full or {}).get(nb, {}).get("claims", []) if c["id"] == claim_id), None)
    if claim is None:
        return "no full-mode run"
    return verdict_text(full[nb], claim) + (f": {report.key_result(claim)}" if key else "")


def render(results: dict[str, dict], link: str = "../notebooks/", full: dict[str, dict] | None = None) -> str:
    """The full claims table of CLAIMS.md; with ``full`` (the quick-mode page), a full-mode column beside."""
    extra = full is not None
    lines = ["| claim | notebook | lecture source | kind | verdict | key result (ours [expected ± tol]) | scale "
             "| published |" + (" full mode (verdict: key result) |" if extra else ""),
             "|---|---|---|---|---|---|---|---|" + ("---|" if extra else "")]
    for nb, c in _all_claims(results):
        lines.append(f"| {c['id']} | [{nb}]({link}{nb}.ipynb) | {_cell(c['source'])} | {c['kind']} | "
                     f"{verdict_text(results[nb], c)} | {_cell(report.key_result(c))} | {_cell(c.get('scale', ''))} | "
                     f"{_cell(report.published(c))} |" + (f" {_cell(full_text(full, nb, c['id'], key=True))} |"
                                                          if extra else ""))
    return "\n".join(lines)


def render_short(results: dict[str, dict], link: str = "notebooks/", full: dict[str, dict] | None = None) -> str:
    """The README's table: id, statement, quick-mode verdict, full-mode verdict, notebook."""
    lines = ["| claim | statement | quick mode | full mode | notebook |", "|---|---|---|---|---|"]
    for nb, c in _all_claims(results):
        lines.append(f"| {c['id']} | {_cell(c['statement'])} | {verdict_text(results[nb], c)} | "
                     f"{_cell(full_text(full, nb, c['id']))} | [{nb[:2]}]({link}{nb}.ipynb) |")
    return "\n".join(lines)


def run_times(folder: Path) -> str:
    """``Run times: 07_vae_with_flows 41.2 min (2 CPUs).``, from the driver's ``runs.json``; shown for
    full mode only, where a reader plans an hour around it (quick-mode times would churn every run)."""
    path = folder / "runs.json"
    if not path.is_file():
        return ""
    runs = json.loads(path.read_text())
    parts = [f"{nb} {r['seconds'] / 60:.1f} min ({r['cpus']} CPUs{', ' + r['gpu'] if r.get('gpu') else ''})"
             for nb, r in sorted(runs.items())]
    return "Run times: " + "; ".join(parts) + ".\n\n" if parts else ""


def status_table(root: Path) -> str:
    """The README's status table: every notebook of the manifest, its claims, and its last run time in each
    mode (``results/runs.json``, ``results/full/runs.json``), so the README cannot fall behind the notebooks."""
    def times(folder: Path) -> dict:
        path = folder / "runs.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    quick, full = times(root / "results"), times(root / "results" / "full")
    lines = ["| notebook | claims | quick mode (2 cores) | full-mode reference run |", "|---|---|---|---|"]
    for nb in manifest.NOTEBOOKS:
        path = root / "notebooks" / f"{nb.name}.ipynb"
        ids = [c.id for c in nb.claims]
        numbers = [int(i[1:]) for i in ids]
        contiguous = len(ids) > 2 and numbers == list(range(numbers[0], numbers[0] + len(ids)))
        claims = f"{ids[0]}-{ids[-1]}" if contiguous else ", ".join(ids)
        q = f"{quick[path.stem]['seconds']:.0f} s" if path.stem in quick else "not run yet"
        f = full.get(path.stem)
        f = (f"{f['seconds'] / 60:.1f} min ({f['cpus']} CPUs{', ' + f['gpu'] if f.get('gpu') else ''})"
             + _training_time(root, path.stem) if f else "none committed")
        lines.append(f"| [{path.stem}](notebooks/{path.name}) | {claims} | {q} | {f} |")
    return "\n".join(lines)


def _training_time(root: Path, notebook: str) -> str:
    """``; its training 3.3 h (cpu)``: the training behind a full-mode notebook's results
    (``Book.trained``), which a run that loaded checkpoints or a committed reference did not repeat."""
    path = root / "results" / "full" / f"{notebook}.json"
    training = json.loads(path.read_text()).get("training") if path.is_file() else None
    return f"; its training {training['seconds'] / 3600:.1f} h ({training['device']})" if training else ""


def _replace_block(text: str, start: str, end: str, block: str) -> str:
    if start not in text or end not in text:
        return text
    before, rest = text.split(start, 1)
    return before + start + "\n" + block + "\n" + end + rest.split(end, 1)[1]


def _claims_page(root: Path, mode: str, full: dict[str, dict] | None) -> tuple[dict, list[str]]:
    """Write ``CLAIMS.md`` of ``mode`` (the quick one with a full-mode column); return its results and problems."""
    folder = root / "results" / ("" if mode == "quick" else mode)
    results = load_results(folder)
    found = [p for nb, d in results.items() for p in problems(nb, d)]
    up = "../" * len(folder.relative_to(root).parts)
    link = f"{up}notebooks/{'' if mode == 'quick' else mode + '/'}"
    missing = not_reproduced(results, link)
    header = (f"# Claims ({mode} mode)\n\nGenerated by `make reproduce` from `results/*.json`; do not edit.\n\n"
              f"**{tally(results)}.**\n\n"
              + ("Not reproduced (failed, contradicted or inconclusive at this scale):\n" + "\n".join(missing) + "\n\n"
                 if missing else "")
              + KIND_LEGEND + "\n\n" + (run_times(folder) if mode != "quick" else ""))
    table = render(results, link, full if mode == "quick" else None)
    write_bytes_atomic(folder / "CLAIMS.md", (header + table + "\n").encode())
    return results, found


def write_tables(root: Path, mode: str) -> dict:
    """Regenerate both modes' ``CLAIMS.md`` (the quick one shows the full-mode verdicts beside its own) and the
    README's status and claims tables; return ``mode``'s summary."""
    full = load_results(root / "results" / "full")
    pages = {m: _claims_page(root, m, full) for m in ("quick", "full")
             if m == mode or load_results(root / "results" / ("" if m == "quick" else m))}
    results, found = pages[mode]
    total = sum(len(d["claims"]) for d in results.values())
    reproduced = sum(c["verdict"] == "reproduced" for d in results.values() for c in d["claims"])
    readme = root / "README.md"
    if readme.is_file():
        write_bytes_atomic(readme, _replace_block(readme.read_text(), STATUS_START, STATUS_END,
                                                  status_table(root)).encode())
        quick = pages["quick"][0] if "quick" in pages else {}
        text = readme.read_text()
        if README_START in text and README_END in text:
            before, rest = text.split(README_START, 1)
            after = rest.split(README_END, 1)[1]
            missing = not_reproduced(quick, "notebooks/")
            block = (f"{README_START}\n**Quick mode: {tally(quick)}.**"
                     + (f" **Full mode: {tally(full)}.**" if full else "")
                     + " Numbers, tolerances, scales and published values: [results/CLAIMS.md](results/CLAIMS.md)"
                     + (", [results/full/CLAIMS.md](results/full/CLAIMS.md)" if full else "") + ".\n\n"
                     + ("Not reproduced at quick scale:\n" + "\n".join(missing) + "\n\n" if missing else "")
                     + f"{render_short(quick, full=full)}\n{README_END}")
            write_bytes_atomic(readme, (before + block + after).encode())
    return {"reproduced": reproduced, "total": total, "problems": found, "failed": bool(found)}
