"""The notebook toolkit: one call sets up a notebook's parameters, claim book and generator.

Every notebook's first code cell reads::

    p, book, gen = setup("03_glow_vs_realnvp", mode=mode, seed=seed, device=device, steps=steps)

which validates the parameters against the notebook's manifest entry (a name it does not declare, or a
bad value, stops the run with what is expected; ``None`` is the mode's default), sets the one figure
style (:mod:`flowlab.lab.style`), opens the :class:`~flowlab.lab.claims.ClaimBook` of the notebook's
claims, and seeds Python, NumPy and torch from ``seed``, returning a ``torch.Generator`` for every explicit draw.
"""
from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import torch

from flowlab.lab import manifest
from flowlab.lab.claims import ClaimBook
from flowlab.lab.params import COMMON, Params, check_names, did_you_mean, notebook_params
from flowlab.lab.style import use_style
from flowlab.train.loop import seed_everything


class Notebook(NamedTuple):
    p: Params
    book: ClaimBook
    gen: torch.Generator


def setup(notebook: str, *, mode: str = "quick", seed: int = 0, device: str = "auto", **params) -> Notebook:
    """Parameters, claim book and seeded generator of ``notebook`` (its name without ``.ipynb``)."""
    if notebook not in manifest.BY_NAME:
        raise ValueError(f"setup needs the name of a notebook in flowlab.lab.manifest, like "
                         f"'01_change_of_variables'{did_you_mean(str(notebook), manifest.BY_NAME)}, got {notebook!r}")
    declared = manifest.BY_NAME[notebook].params
    check_names(params, [*COMMON, *declared], notebook, " (from its entry in flowlab.lab.manifest)")
    p = replace(notebook_params(mode=mode, seed=seed, device=device, declared=declared, **params), notebook=notebook)
    use_style()
    return Notebook(p, ClaimBook(notebook, p), seed_everything(p.seed))
