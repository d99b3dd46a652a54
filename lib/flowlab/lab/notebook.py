"""The notebook toolkit: one call sets up a notebook's parameters, claim book and generator.

Every notebook's first code cell reads::

    p, book, gen = setup("03_glow_vs_realnvp", mode=mode, seed=seed, device=device, steps=steps)

which validates the parameters (a name the notebook's ``parameters`` cell does not declare, or a bad
value, stops the run with what is expected), sets the one figure style (:mod:`flowlab.lab.style`),
opens the :class:`~flowlab.lab.claims.ClaimBook` of the notebook's registered claims, and seeds
Python, NumPy and torch from ``seed``, returning a ``torch.Generator`` for every explicit draw.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from flowlab.files import repo_root
from flowlab.lab.claims import ClaimBook
from flowlab.lab.params import Params, check_names, declared_parameters, notebook_params
from flowlab.lab.style import use_style
from flowlab.train.loop import seed_everything


class Notebook(NamedTuple):
    p: Params
    book: ClaimBook
    gen: torch.Generator


def notebook_file(notebook: str) -> Path:
    return repo_root() / "notebooks" / f"{notebook}.ipynb"


def known_parameters(notebook: str) -> list[str] | None:
    """The names ``notebook``'s parameters cell declares, or None when its file is not at hand (a
    copy opened outside the repository): then only the generic checks of ``notebook_params`` apply."""
    path = notebook_file(notebook)
    return declared_parameters(path) if path.is_file() else None


def setup(notebook: str, *, mode: str = "quick", seed: int = 0, device: str = "auto", **counts) -> Notebook:
    """Parameters, claim book and seeded generator of ``notebook`` (its name without ``.ipynb``)."""
    if not isinstance(notebook, str) or not notebook:
        raise ValueError(f"setup needs the notebook's name, like '01_change_of_variables', got {notebook!r}")
    known = known_parameters(notebook)
    if known is not None:
        check_names(counts, known, notebook,
                    f" (from the parameters cell of notebooks/{notebook}.ipynb as last saved)")
    p = notebook_params(mode=mode, seed=seed, device=device, known=known, **counts)
    use_style()
    return Notebook(p, ClaimBook(notebook, p), seed_everything(p.seed))
