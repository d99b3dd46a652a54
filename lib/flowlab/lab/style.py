"""The one figure style: legible on a projector, the same in every notebook.

:func:`use_style` is called by :func:`flowlab.lab.setup`; notebooks do not set font sizes or
resolutions themselves.
"""
from __future__ import annotations

STYLE = {
    "figure.dpi": 100,          # on screen; files are written at flowlab.lab.outputs.DPI
    "savefig.dpi": 150,
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 10.5,
    "legend.framealpha": 0.85,
    "lines.linewidth": 2.0,
    "lines.markersize": 6,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "image.cmap": "viridis",
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_style() -> None:
    import matplotlib as mpl

    mpl.rcParams.update(STYLE)
