"""The notebook toolkit: one call sets up a notebook's parameters, claim book and generator.

Every notebook's first code cell reads::

    p, book, gen = setup("03_glow_vs_realnvp", mode=mode, seed=seed, device=device, steps=steps)

which validates the parameters (a bad value stops the run with what is expected), sets the one
figure style (:mod:`flowlab.lab.style`), opens the
:class:`~flowlab.lab.claims.ClaimBook` of the notebook's registered claims, and seeds Python, NumPy
and torch from ``seed``, returning a ``torch.Generator`` for every explicit draw.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from flowlab.lab.claims import ClaimBook
from flowlab.lab.params import Params, notebook_params
from flowlab.lab.style import use_style
from flowlab.train.loop import seed_everything


class Notebook(NamedTuple):
    p: Params
    book: ClaimBook
    gen: torch.Generator


def setup(notebook: str, *, mode: str = "quick", seed: int = 0, device: str = "auto", **counts) -> Notebook:
    """Parameters, claim book and seeded generator of ``notebook`` (its name without ``.ipynb``)."""
    p = notebook_params(mode=mode, seed=seed, device=device, **counts)
    use_style()
    return Notebook(p, ClaimBook(notebook, p), seed_everything(p.seed))
