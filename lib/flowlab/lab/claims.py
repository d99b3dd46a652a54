"""Recording a notebook's claims: each check, its tolerance and why, the verdict, with provenance.

A notebook opens a :class:`ClaimBook`, records checks as it goes, prints the verdict table at the end
(the one cell nbval compares), and saves ``results/NN_topic.json``::

    book = ClaimBook("01_change_of_variables", p)
    book.check("C01", "total mass", measured=mass, expected=1.0, tolerance=1e-6,
               why="float64 quadrature of a piecewise-constant density")
    book.order("C11", "1x1 conv beats reverse", decide({"conv < reverse": lower(conv, rev)}),
               expected="conv < reverse")
    book.display("C11", "CIFAR-10 bits/dim, Glow", ours=None, published=3.35)
    book.summary(); book.save()

Statement, source and kind come from :mod:`flowlab.lab.registry`. An exact or stat claim is
``reproduced`` when every check passed, otherwise ``failed``; an order claim is ``reproduced``,
``contradicted`` or ``inconclusive at this scale`` by the rule of :mod:`flowlab.measure.orders`.
Display rows never change a verdict.
"""
from __future__ import annotations

import json
import math
from typing import Any, Sequence

import numpy as np

from flowlab.files import repo_root, write_json_atomic
from flowlab.lab import manifest, registry, report, specs
from flowlab.lab.outputs import results_dir
from flowlab.lab.provenance import code_identity, provenance
from flowlab.measure.orders import REPRODUCED, RULE, OrderDecision
from flowlab.validate import IsA, checked


def _plain(value: Any, digits: int = 6) -> Any:
    """A JSON-ready, rounded copy of a measured value (tensors and arrays become lists)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, digits) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value) or value == 0.0:
            return value
        return float(f"{value:.{digits}g}")
    return value


class ClaimBook:
    """The claims of one notebook, in the order they are checked."""

    def __init__(self, notebook: str, params):
        specs = registry.claims_for(notebook)
        if not specs:
            raise ValueError(f"no claims are registered for notebook {notebook!r} in flowlab.lab.registry")
        self.notebook = notebook
        self.params = params
        code_identity()  # pin the commit and library digest now, as the kernel imported them
        self.specs = {s.id: s for s in specs}
        self.records: dict[str, dict] = {}
        self.scales: dict[str, str] = {}
        self.training: dict | None = None
        self._measured: dict[str, dict] | None = None

    def _record(self, claim_id: str, *kinds: str) -> dict:
        """The record of ``claim_id``, which must be registered (and of one of ``kinds`` when given)."""
        if claim_id not in self.specs:
            raise ValueError(f"claim {claim_id!r} is not registered for {self.notebook}; it has {sorted(self.specs)}")
        spec = self.specs[claim_id]
        if kinds and spec.kind not in kinds:
            raise ValueError(f"{claim_id} is a {spec.kind} claim; use "
                             f"{'book.check' if 'order' in kinds else 'book.order or book.display'}")
        return self.records.setdefault(claim_id, {
            "id": spec.id, "kind": spec.kind, "statement": spec.statement, "source": spec.source,
            "checks": [], "display": [],
        })

    def check(self, claim_id: str, what: str, *, measured, expected, tolerance: float | None = None,
              why: str, passed: bool | None = None) -> None:
        """One exact or stat check. Without ``passed``, it is ``max|measured - expected| <= tolerance``.

        Prints one short line; the ``why`` goes to the results file, and is printed only on failure."""
        rec = self._record(claim_id, "exact", "stat")
        if passed is None:
            if tolerance is None:
                raise ValueError("check needs a tolerance, or an explicit passed=...")
            err = np.max(np.abs(np.asarray(_plain(measured, 17), dtype=float)
                                - np.asarray(_plain(expected, 17), dtype=float)))
            passed = bool(err <= tolerance)
        entry = {"what": what, "measured": _plain(measured), "expected": _plain(expected),
                 "tolerance": _plain(tolerance), "why": why, "passed": bool(passed)}
        rec["checks"].append(entry)
        print(report.check_line(passed, claim_id, what, entry["measured"], entry["expected"], entry["tolerance"]))
        if not passed:
            print(f"    why this tolerance: {why}")
            self._explain_failure(claim_id)

    def _explain_failure(self, claim_id: str) -> None:
        """A failed stat check at a reader's seed: how often a correct method fails it (nominal, measured)."""
        if self.specs[claim_id].kind != "stat":
            return
        seeds = self._calibration()[claim_id]["failures_over_seeds"]
        print("    " + registry.failure_note(claim_id, seeds["failed"], seeds["seeds"]))

    def _calibration(self) -> dict[str, dict]:
        """What calibration measured of this notebook's claims (read once; the driver's stamp covers it)."""
        if self._measured is None:
            from flowlab.lab import calibrate

            self._measured = calibrate.measured_for(self.notebook, self.params.mode)
        return self._measured

    def check_rows(self, claim_id: str, what: str, *, rows: dict[str, dict], checked: Sequence[str],
                   expected: float, tolerance: float, why: str) -> None:
        """One check made of many setups (fields, noises, times...): every number in the ``checked``
        columns of every row must lie within ``expected`` ± ``tolerance``.

        Prints a headline, ``✓ C29 <what>: 16/16 within 0 ± 3.42``, and the rows as a table with a
        mark per row; records the value furthest from ``expected`` as the measurement, the rows beside
        it, and the names of the rows that fell outside."""
        rec = self._record(claim_id, "exact", "stat")
        if not isinstance(rows, dict) or not rows or not all(isinstance(r, dict) for r in rows.values()):
            raise ValueError(f"check_rows expects rows as a non-empty dict: row name -> dict of columns, got {rows!r}")
        missing = [(name, c) for name, r in rows.items() for c in checked if c not in r]
        if not checked or missing:
            raise ValueError(f"check_rows: every row needs the checked columns {list(checked)}; missing {missing}")
        tol, centre = float(tolerance), float(expected)

        def values(row):
            return np.concatenate([np.ravel(np.asarray(_plain(row[c], 17), dtype=float)) for c in checked])

        worst_of = {name: values(r)[np.argmax(np.abs(values(r) - centre))] for name, r in rows.items()}
        inside = {name: bool(np.all(np.abs(values(r) - centre) <= tol)) for name, r in rows.items()}
        n_in = sum(int(np.sum(np.abs(values(r) - centre) <= tol)) for r in rows.values())
        n_all = sum(values(r).size for r in rows.values())
        worst = max(worst_of.values(), key=lambda v: abs(v - centre))
        passed = all(inside.values())
        entry = {"what": what, "measured": _plain(float(worst)), "expected": _plain(centre),
                 "tolerance": _plain(tol), "why": why, "passed": passed,
                 "within": f"{n_in}/{n_all}", "failed_rows": [n for n, ok in inside.items() if not ok],
                 "rows": _plain(rows)}
        rec["checks"].append(entry)
        print(report.rows_line(passed, claim_id, what, entry["within"], centre, tol))
        report.show_table([{"": name, **r, report.MARK_COLUMN: report.MARK[inside[name]]} for name, r in rows.items()])
        if not passed:
            print(f"    outside: {', '.join(entry['failed_rows'])}; why this tolerance: {why}")
            self._explain_failure(claim_id)

    @checked
    def order(self, claim_id: str, what: str,
              decision: IsA(OrderDecision, "the OrderDecision of flowlab.measure.decide(...)"), *,
              expected: str, why: str = "", measured=None) -> None:
        """An empirical ordering over seeds, decided by :func:`flowlab.measure.decide`: prints its outcome
        (reproduced, contradicted or inconclusive at this scale) and each comparison's deciding numbers
        (means, Δ, its interval, what was claimed); ``measured`` adds a table of the runs behind it."""
        rec = self._record(claim_id, "order")
        outcome = decision.outcome
        entry = {"what": what, "outcome": outcome, "passed": outcome == REPRODUCED,
                 "measured": _plain(decision.rows()), "alpha": decision.alpha, "expected": expected,
                 "why": why, "rule": RULE}
        if measured is not None:
            entry["runs"] = _plain(measured)
        rec["checks"].append(entry)
        print(report.order_line(outcome, claim_id, what))
        report.show_table(report.rows_of(entry["measured"]))
        if measured is not None and report.rows_of(entry["runs"]):
            report.show_table(report.rows_of(entry["runs"]))
        if outcome != REPRODUCED:
            print(f"    claimed: {expected}; rule: {RULE}" + (f"; {why}" if why else ""))

    def scale(self, text: str, claim_id: str | None = None) -> None:
        """The scale a claim (or, without ``claim_id``, every claim of the notebook) ran at:
        data, steps x seeds, parameters. Shown in the closing table, CLAIMS.md and the book."""
        if claim_id is not None:
            self._record(claim_id)
        self.scales[claim_id or ""] = str(text)

    def trained(self, seconds: float, device: str) -> None:
        """The training behind these results: ``seconds`` summed over every run and every resumption (the
        time recorded in a loaded checkpoint or committed reference included) on ``device``. The README's
        status table shows it beside the notebook's own run time, so a run that loaded its training is not
        mistaken for the claims' cost. Notebooks call it in full mode only: a time in quick-mode results would
        make the same seed's results file differ from run to run."""
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"trained: seconds must be a finite number >= 0, got {seconds!r}")
        self.training = {"seconds": float(seconds), "device": str(device)}

    def key(self, claim_id: str, text: str) -> None:
        """The one number a reader should see for the claim (default: the check closest to failing)."""
        self._record(claim_id)["key"] = str(text)

    def display(self, claim_id: str, what: str, *, ours, published, source: str = "", note: str = "") -> None:
        """A published number beside ours. Shown, never asserted. A published number travels with its
        ``source``, the dataset and the paper (``"CIFAR-10, Kingma & Dhariwal 2018, Table 2"``), printed
        beside it wherever it appears; a row needs a number of ours (a published number with nothing of
        ours to set beside it belongs in the note of a row that has one)."""
        if ours is None:
            raise ValueError(f"{claim_id} display {what!r} has no number of ours; put the published one in the "
                             "note of a row that has one")
        if published is not None and not source:
            raise ValueError(f"{claim_id} display {what!r}: a published number needs its source= (dataset, paper, "
                             "table), e.g. 'CIFAR-10, Kingma & Dhariwal 2018, Table 2'")
        rec = self._record(claim_id)
        rec["display"].append({"what": what, "ours": _plain(ours), "published": _plain(published),
                               "source": source, "note": note})
        if published is not None:
            print(f"· {claim_id} {what}: ours {report.short(_plain(ours))}; "
                  f"published {report.short(_plain(published))} ({source})")

    def verdict(self, claim_id: str) -> str:
        rec = self.records.get(claim_id)
        return registry.verdict(self.specs[claim_id].kind, rec["checks"] if rec else [])

    def _claims(self) -> list[dict]:
        out = []
        for claim_id in self.specs:
            rec = self.records.get(claim_id) or self._record(claim_id)
            default = f"{self.params.mode} mode, {self.params.device}, seed {self.params.seed}"
            out.append({**rec, "verdict": self.verdict(claim_id),
                        "scale": self.scales.get(claim_id) or self.scales.get("") or default,
                        **self._over_seeds(claim_id)})
        return out

    def _over_seeds(self, claim_id: str) -> dict:
        """What calibration over seeds measured of the claim (``results/calibration/<mode>.json``): a stat
        claim's nominal false-alarm rate and its failures; an order claim's outcome counts and pin."""
        spec = self.specs[claim_id]
        extra = dict(self._calibration()[claim_id])
        if spec.kind == "stat":
            extra["false_alarm"] = spec.false_alarm
        if spec.kind == "order":
            pin = registry.pin(claim_id, self.params.mode)
            extra["pinned"] = str(pin) if pin is not None else None
        return extra

    def report(self) -> None:
        """The closing table: claim, what the lecture says, verdict (and which part failed), our
        number, the scale it ran at, the published number."""
        from flowlab.lab.tables import verdict_text

        claims = self._claims()
        data = {"provenance": {"mode": self.params.mode}}
        shown = [{**c, "verdict": verdict_text(data, c)} for c in claims]
        report.show_table(report.closing_rows(shown, {c["id"]: c["scale"] for c in claims}),
                          caption=f"{self.notebook}: claims ({self.params.mode} mode, {self.params.device})")

    def summary(self) -> None:
        """Print the verdict table: the output nbval compares, so only what is stable across machines.
        A claim pinned seed-dependent prints its calibration counts, not this run's draw (the closing
        table above shows that)."""
        mode = self.params.mode
        print(f"{self.notebook} ({mode} mode)")
        stable = []
        for claim_id, spec in self.specs.items():
            pinned = registry.pin(claim_id, mode)
            if isinstance(pinned, specs.SeedDependent):
                print(f"  {claim_id}  {spec.kind:<7} {pinned}")
                continue
            stable.append(claim_id)
            print(f"  {claim_id}  {spec.kind:<7} {self.verdict(claim_id)}")
        done = sum(self.verdict(c) == "reproduced" for c in stable)
        aside = len(self.specs) - len(stable)
        print(f"  {done}/{len(stable)} reproduced" + (f" ({aside} seed-dependent, not counted)" if aside else ""))

    def results_of(self, notebook: str) -> "NotebookResults":
        """The saved results of ``notebook``, which this notebook's manifest entry must name in its
        ``depends_on`` (so the driver runs it first and re-runs this one when it changes)."""
        declared = manifest.DEPENDS_ON.get(self.notebook, ())
        if notebook not in declared:
            raise ValueError(f"{self.notebook} reads results of {notebook!r} without declaring it; add it to the "
                             f"depends_on of {self.notebook!r} in flowlab.lab.manifest (declared: {declared})")
        return NotebookResults.load(notebook, self.params.mode)

    def save(self):
        """Write ``results/<notebook>.json`` atomically and return its path."""
        claims = self._claims()
        payload = {"notebook": self.notebook,
                   "provenance": provenance(self.params.mode, self.params.seed, self.params.device),
                   "claims": claims, **({"training": self.training} if self.training else {})}
        path = results_dir(self.params) / f"{self.notebook}.json"
        write_json_atomic(path, payload)
        return path


class NotebookResults:
    """Another notebook's ``results/NN_topic.json``, read through names rather than its prose."""

    def __init__(self, data: dict):
        self.data = data
        self.claims = {c["id"]: c for c in data["claims"]}

    @classmethod
    def load(cls, notebook: str, mode: str = "quick") -> "NotebookResults":
        sub = "" if mode == "quick" else mode
        candidates = [results_dir(mode) / f"{notebook}.json", repo_root() / "results" / sub / f"{notebook}.json"]
        for path in candidates:
            if path.is_file():
                return cls(json.loads(path.read_text()))
        raise FileNotFoundError(f"no results for {notebook} ({mode} mode) at {candidates[-1]}; "
                                f"run `make reproduce NB={notebook[:2]}` first")

    @property
    def provenance(self) -> dict:
        return self.data["provenance"]

    def verdict(self, claim_id: str) -> str:
        return self.claims[claim_id]["verdict"]

    def displayed(self, claim_id: str) -> list[dict]:
        """The claim's display rows: ``what``, ``ours``, ``published``, ``note``."""
        return list(self.claims[claim_id]["display"])

    def value(self, claim_id: str, what: str):
        """``ours`` of the display row of ``claim_id`` whose ``what`` is ``what``."""
        for row in self.claims[claim_id]["display"]:
            if row["what"] == what:
                return row["ours"]
        names = [row["what"] for row in self.claims[claim_id]["display"]]
        raise KeyError(f"{claim_id} has no display row {what!r}; it has {names}")
