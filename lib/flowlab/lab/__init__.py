"""The notebook pipeline: claims registry, ClaimBook, notebook setup and parameters, outputs,
report tables, and the papermill driver (``python -m flowlab.lab.reproduce``)."""
from flowlab.lab.claims import ClaimBook, NotebookResults
from flowlab.lab.notebook import Notebook, setup
from flowlab.lab.outputs import figures_dir, results_dir, save_figure
from flowlab.lab.params import MODES, Params, notebook_params

__all__ = ["ClaimBook", "MODES", "Notebook", "NotebookResults", "Params", "figures_dir", "notebook_params",
           "results_dir", "save_figure", "setup"]
