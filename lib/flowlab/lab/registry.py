"""The claims registry: the rules over the manifest's claims (:mod:`flowlab.lab.manifest`).

One rule turns a claim's checks into its verdict (:func:`verdict`); the pins say what calibration
found of each order claim (:func:`pin`, :func:`shown_verdict`); and a stat claim's error rate is told
the same way everywhere (:func:`rate_text`, :func:`failure_note`).
"""
from __future__ import annotations

from flowlab.lab.manifest import BY_ID, CLAIMS
from flowlab.lab.specs import LEGACY_NOT_REPRODUCED, ClaimSpec, SeedDependent
from flowlab.measure.orders import CONTRADICTED, INCONCLUSIVE, REPRODUCED

SEED_DEPENDENT_MEANING = ("seed-dependent: calibration over at least 10 seed sets (and two float paths) found "
                          "no outcome in 9 of 10 of them, so one run's outcome is a draw; the counts are shown")
INCONCLUSIVE_MEANING = ("inconclusive at this scale: the confidence interval of a comparison still straddles "
                        "the claim's edge at this number of seeds and steps; neither reproduced nor contradicted")




def verdict(kind: str, checks: list[dict]) -> str:
    """The one rule: an exact or stat claim is ``reproduced`` when every check passed, else ``failed``;
    an order claim is ``reproduced`` when every check's outcome is, ``contradicted`` when any check's
    is, and ``inconclusive at this scale`` otherwise."""
    if not checks:
        return "not recorded"
    if kind == "order" and not all("outcome" in c for c in checks):
        # recorded before the three-outcome rule (committed full-mode references): its old verdicts
        return "reproduced" if all(c["passed"] for c in checks) else LEGACY_NOT_REPRODUCED
    if kind == "order":
        outcomes = [c["outcome"] for c in checks]
        if all(o == REPRODUCED for o in outcomes):
            return REPRODUCED
        return CONTRADICTED if CONTRADICTED in outcomes else INCONCLUSIVE
    return "reproduced" if all(c["passed"] for c in checks) else "failed"


def pin(claim_id: str, mode: str):
    """The outcome pinned for an order claim in ``mode``: an outcome, a :class:`SeedDependent`, or None."""
    spec = BY_ID.get(claim_id)
    return None if spec is None else spec.pinned.get(mode)


def shown_verdict(claim_id: str, verdict: str, mode: str) -> str:
    """A verdict as the tables print it: for a claim pinned seed-dependent in ``mode``, this run's
    outcome followed by the calibration's counts."""
    pinned = pin(claim_id, mode)
    if isinstance(pinned, SeedDependent):
        return f"{verdict}; {pinned}"
    return verdict


def rate_text(claim_id: str, failed: int | None = None, runs: int | None = None) -> str:
    """A stat claim's error rate as a reader needs it: ``nominal false-alarm rate 1%; measured: failed in 2
    of 76 seeded runs`` (the calibration's runs: seeds on either float path)."""
    rate = BY_ID[claim_id].false_alarm
    nominal = f"nominal false-alarm rate {100 * rate:.2g}%" if isinstance(rate, float) else str(rate)
    measured = (f"; measured: failed in {failed} of {runs} seeded runs" if runs
                else "; measured rate: not yet calibrated")
    return nominal + measured


def failure_note(claim_id: str, failed: int | None = None, runs: int | None = None) -> str:
    """What a failed stat check means at a reader's seed."""
    rate = BY_ID[claim_id].false_alarm
    measured = f" (measured: failed in {failed} of {runs} seeded runs)" if runs else ""
    if isinstance(rate, float):
        return (f"{claim_id} fails at this seed; a correct method fails this claim {100 * rate:.2g}% of the time"
                f"{measured}: try another seed before suspecting the code")
    return f"{claim_id} fails at this seed{measured}; {rate}, so look at the numbers above"


def claims_for(notebook: str) -> list[ClaimSpec]:
    """The registered claims of one notebook (by its name without extension)."""
    return [c for c in CLAIMS if c.notebook == notebook]


def get(claim_id: str) -> ClaimSpec:
    try:
        return BY_ID[claim_id]
    except KeyError:
        raise ValueError(f"unknown claim id {claim_id!r}; registered ids are C01..C{len(CLAIMS):02d}") from None
