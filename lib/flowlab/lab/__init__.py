"""The notebook pipeline. A notebook needs two names: :func:`setup` (parameters, claim book, seeded
generator) and :func:`save_figure`. The rest is the pipeline's own, in its modules: the manifest
(``manifest``), the claims registry and book (``registry``, ``claims``), parameters and outputs,
report tables, the papermill driver (``python -m flowlab.lab.reproduce``) and the calibration."""
from flowlab.lab.notebook import setup
from flowlab.lab.outputs import save_figure

__all__ = ["save_figure", "setup"]
