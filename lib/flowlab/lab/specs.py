"""The types of the manifest (:mod:`flowlab.lab.manifest`): a notebook's entry, its parameters and its
claims, and the pin of an order claim whose outcome depends on the seed."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from flowlab.measure.orders import CONTRADICTED, INCONCLUSIVE, REPRODUCED

KINDS = ("exact", "stat", "order", "display")
LEGACY_NOT_REPRODUCED = "not reproduced at this scale"  # the two-outcome rule's verdict, in older results
AGREEMENT = 0.9  # an outcome is pinned when at least this fraction of the calibration runs gave it


@dataclass(frozen=True)
class SeedDependent:
    """A pin for an order claim whose outcome varied over the calibration's seed sets."""
    counts: tuple[tuple[str, int], ...]  # (outcome, seed sets that gave it), most frequent first

    @property
    def runs(self) -> int:
        return sum(n for _, n in self.counts)

    def __str__(self) -> str:
        parts = [f"{outcome} in {n}" for outcome, n in self.counts if n]
        return f"seed-dependent ({', '.join(parts)} of {self.runs} seed sets)"


def seed_dependent(reproduced: int = 0, contradicted: int = 0, inconclusive: int = 0) -> SeedDependent:
    """The pin of a claim whose calibration gave these counts of each outcome."""
    counts = {REPRODUCED: reproduced, CONTRADICTED: contradicted, INCONCLUSIVE: inconclusive}
    assert sum(counts.values()) >= 10 and max(counts.values()) < AGREEMENT * sum(counts.values()), counts
    return SeedDependent(tuple(sorted(counts.items(), key=lambda kv: -kv[1])))


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    notebook: str
    kind: str
    statement: str
    source: str
    pinned: dict = field(default_factory=dict)  # mode -> outcome or SeedDependent, for order claims
    false_alarm: float | str | None = None  # stat claims: the nominal rate a correct method fails at, or why none


@dataclass(frozen=True)
class Param:
    """A notebook parameter: its default in each mode, what it counts, and, for a name, the choices."""
    quick: int | str | None
    full: int | str | None
    help: str
    choices: tuple[str, ...] = ()

    def default(self, mode: str):
        return self.quick if mode == "quick" else self.full


@dataclass(frozen=True)
class NotebookSpec:
    name: str  # the file's name without .ipynb: "02_coupling_flows"
    section: str  # the book section it is listed under
    claims: tuple[ClaimSpec, ...]
    params: dict[str, Param] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    timed: bool = False  # it times its own computations: the driver runs it with no other notebook beside it

    def __post_init__(self):
        object.__setattr__(self, "claims", tuple(replace(c, notebook=self.name) for c in self.claims))


def Notebook(name, section, *, claims, params=None, depends_on=(), timed=False) -> NotebookSpec:  # noqa: N802 - a table
    return NotebookSpec(name, section, tuple(claims), dict(params or {}), tuple(depends_on), timed)


def exact(id, statement, source) -> ClaimSpec:
    return ClaimSpec(id, "", "exact", statement, source)


def stat(id, statement, source, *, false_alarm) -> ClaimSpec:
    return ClaimSpec(id, "", "stat", statement, source, false_alarm=false_alarm)


def order(id, statement, source, **pinned) -> ClaimSpec:
    return ClaimSpec(id, "", "order", statement, source, dict(pinned))
