"""Validation of the parameters a notebook takes (papermill overrides them).

Every notebook's ``parameters`` cell declares its parameters (``steps: Optional[int] = None``), and its
first code cell passes them to :func:`flowlab.lab.setup`, which checks them with :func:`notebook_params`
against the notebook's manifest entry (:mod:`flowlab.lab.manifest`), where each has its quick- and
full-mode default: a misspelt name or a bad value stops the run at once with a message saying what is
expected, instead of running silently with the default; a ``None`` becomes the mode's default.
"""
from __future__ import annotations

import ast
import difflib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flowlab.files import repo_root
from flowlab.lab.specs import Param
from flowlab.validate import Count0, OneOf, check_choice, check_count, checked

MODES = ("quick", "full")
# A quick-mode cell that runs past half an hour has hung; a full-mode cell trains for hours (checkpointed,
# resumable), so it has no limit unless one is asked for.
CELL_TIMEOUT = {"quick": 1800, "full": None}
COMMON = ("mode", "seed", "device")
PARAMETERS_TAG = "parameters"  # papermill's tag of the cell whose assignments it may override
INJECTED_TAG = "injected-parameters"  # papermill's tag of the cell it adds with the overrides
_NO_DEFAULT = object()  # a default that is not a literal (an expression): never equal to a given value


@dataclass(frozen=True)
class Params:
    mode: str
    seed: int
    device: str
    extra: dict = field(default_factory=dict)  # every parameter's value, a None given filled with the mode's default
    given: frozenset = frozenset()  # the parameters given a value (not None): such a run is not the reference
    notebook: str = ""  # the notebook's name (its checkpoints' folder); setup fills it in

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    def __getattr__(self, name):
        extra = object.__getattribute__(self, "extra")
        if name in extra:
            return extra[name]
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and friends probing for optional hooks
        have = ", ".join((*COMMON, *extra))
        raise AttributeError(f"these notebook parameters have no {name!r}; they have {have} "
                             f"(pass {name}={name} to setup(...) to use it)")

    def pick(self, quick, full):
        """The quick-mode or the full-mode value of a setting."""
        return quick if self.quick else full

    def checkpoint(self, run: str) -> Path | None:
        """Where the full-mode run ``run`` keeps its checkpoint, for :func:`flowlab.train.fit`: a notebook
        stopped mid-way and run again loads the runs it finished and resumes the one it was in (``fit``'s
        key retrains a run whose settings changed). ``None`` in quick mode, whose runs take seconds."""
        if self.quick:
            return None
        if not self.notebook or not run or "/" in run:
            raise ValueError(f"Params.checkpoint needs a run name without '/' and the notebook's name (setup "
                             f"gives it), got run={run!r} in notebook {self.notebook!r}")
        return repo_root() / "checkpoints" / self.notebook / f"{self.mode}-seed{self.seed}" / f"{run}.pt"


def _cell_source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def parameters_cell(nb_path: Path) -> str | None:
    """The source of the cell tagged ``parameters`` in a notebook file (None when it has none)."""
    nb = json.loads(Path(nb_path).read_text())
    for cell in nb["cells"]:
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []):
            return _cell_source(cell)
    return None


def declared_defaults(nb_path: Path) -> dict:
    """``{name: default}`` of every name assigned in the notebook's parameters cell, in order
    (``seed: int = 0`` and ``seed = 0`` alike). A default that is not a literal is recorded as unknown,
    so that no given value counts as equal to it."""
    source = parameters_cell(nb_path)
    defaults = {}
    for node in ast.parse(source or "").body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        try:
            default = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError):
            default = _NO_DEFAULT
        for target in targets:
            if isinstance(target, ast.Name):
                defaults[target.id] = default
    return defaults


def declared_parameters(nb_path: Path) -> list[str]:
    """Names assigned in the cell tagged ``parameters`` (what papermill may override)."""
    return list(declared_defaults(nb_path))


def is_default(value, default) -> bool:
    """``value`` is the declared default: equal and of the same type (``seed=0`` is, ``seed=0.0`` is not)."""
    return default is not _NO_DEFAULT and type(value) is type(default) and value == default


def did_you_mean(name: str, names: Collection[str], cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_names(names: Collection[str], known: Collection[str], where: str, note: str = "") -> None:
    """Refuse any of ``names`` that is not in ``known``, naming it, ``where`` it was given and what is
    known (the closest known name first when there is one); ``note`` says where ``known`` came from."""
    unknown = [n for n in names if n not in known]
    if unknown:
        name = unknown[0]
        raise ValueError(f"{where} has no parameter {name!r}{did_you_mean(name, known)}; "
                         f"known parameters: {', '.join(known)}{note}")


def _near_miss(name: str) -> str | None:
    """The common parameter ``name`` is a misspelling of (``mdoe``, ``sead``), if any. A plural
    (``seeds``) is a count of the thing, a parameter of its own, not a misspelling."""
    close = difflib.get_close_matches(name, COMMON, n=1, cutoff=0.7)
    if close and name != close[0] + "s":
        return close[0]
    return None


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} asked for, but no CUDA device is available; use 'cpu' or 'auto'")
        return device
    raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu' or 'cuda[:N]'")


def _value(name: str, value, param: Param | None, mode: str):
    """A parameter's value: the mode's default for ``None``, else a checked count or choice."""
    if value is None:
        return None if param is None else param.default(mode)
    if param is not None and param.choices:
        return check_choice(value, param.choices, name, "notebook parameters")
    return check_count(value, name, "notebook parameters (None for the mode's default)")


@checked
def notebook_params(mode: OneOf(MODES) = "quick", seed: Count0 = 0, device: str = "auto", *,
                    declared: Mapping[str, Param] | None = None, **values) -> Params:
    """Check the common parameters and the notebook's own (counts, or a name among its choices).

    ``declared`` (a manifest entry's ``params``) refuses any other name and fills a ``None`` with the
    mode's default; without it any positive count is accepted, except a near-miss of ``mode``, ``seed``
    or ``device``, which is surely a typo."""
    if declared is not None:
        check_names(values, [*COMMON, *declared], "notebook_params")
    else:
        for name in values:
            meant = _near_miss(name)
            if meant:
                raise ValueError(f"notebook_params has no parameter {name!r} (did you mean {meant!r}?); it "
                                 f"takes {', '.join(COMMON)} and positive counts such as steps or samples")
    declared = declared or {}
    resolved = {name: _value(name, values.get(name), declared.get(name), mode) for name in [*declared, *values]}
    given = frozenset(name for name, value in values.items() if value is not None)
    return Params(mode=mode, seed=seed, device=_device(device), extra=resolved, given=given)
