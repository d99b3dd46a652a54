# flowlab: `make reproduce` regenerates every notebook, figure and result; `make test` checks them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
# torch is pinned to the build this machine provides (CPU wheel on disk); a GPU user sets TORCH.
TORCH ?= torch==2.13.0
MODE ?= quick
NB ?=
PARAMS ?=
SEEDS ?=
FLOAT_PATH ?=
JOBS ?=
PY := $(VENV)/bin/python
READY := $(VENV)/.flowlab-ready

.PHONY: reproduce calibrate test lint test-lib test-notebooks bench data lab book clean venv help
.DEFAULT_GOAL := help

help:
	@echo "make reproduce [MODE=quick|full] [NB=03] [PARAMS='steps=200'] [JOBS=2]  run notebooks, regenerate outputs"
	@echo "make calibrate [NB=03] [SEEDS=0-9] [FLOAT_PATH=default] [JOBS=2]  verdict stability over seeds (then: python -m flowlab.lab.calibrate --report)"
	@echo "make test                                                      lint, library, claims and notebook tests"
	@echo "make bench                                                     speed against zuko/nflows/normflows"
	@echo "make data                                                      fetch full MNIST and CIFAR-10"
	@echo "make lab                                                       JupyterLab on the notebooks (project venv)"
	@echo "make book                                                      the static site from the executed notebooks"
	@echo "make clean                                                     remove build outputs (keeps results)"

venv: $(READY)
$(READY): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(PY) -c "import torch; print(f'torch=={torch.__version__.split(\"+\")[0]}')" > $(VENV)/constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -c $(VENV)/constraints.txt -e ".[test,bench,book]"
	touch $@

reproduce: $(READY)
	$(PY) -m flowlab.lab.reproduce --mode $(MODE) $(if $(NB),--nb $(NB)) $(foreach p,$(PARAMS),-p $(p)) \
	  $(if $(JOBS),--jobs $(JOBS)) $(if $(CELL_TIMEOUT),--cell-timeout $(CELL_TIMEOUT))

# Each order claim's verdict over seed sets and float paths, before it is pinned (resumable; see --report).
calibrate: $(READY)
	$(PY) -m flowlab.lab.calibrate --mode $(MODE) $(if $(NB),--nb $(NB)) $(if $(SEEDS),--seeds $(SEEDS)) \
	  $(if $(FLOAT_PATH),--float-path $(FLOAT_PATH)) $(if $(JOBS),--jobs $(JOBS)) $(if $(CELL_TIMEOUT),--cell-timeout $(CELL_TIMEOUT))

test: lint test-lib test-notebooks

# ruff (its rules in pyproject.toml) over the library, the tests and the benchmarks.
lint: $(READY)
	$(VENV)/bin/ruff check lib tests benchmarks

test-lib: $(READY)
	$(PY) -m pytest tests -q -p no:cacheprovider -n auto --maxprocesses 4

# nbval re-executes every notebook and compares the verdict cells; the fresh results it writes go to
# build/nbval (not over the committed ones) and are then put through the same claims test.
# NBVAL_CPU_CAPABILITY=default runs it on ATen's non-vectorised kernels, another float path than the
# references' (CI does): a verdict that flips with rounding then fails here, not on a user's machine.
# The notebooks run side by side (one kernel a core, at most 4, each on one thread as `make reproduce`
# runs them), except those the manifest lists in SERIAL (timed, or reading another's results), which
# run one at a time after the rest.
NBVAL_CPU_CAPABILITY ?=
NB_SERIAL = $(shell $(PY) -c 'from flowlab.lab.manifest import SERIAL; print(*(f"notebooks/{n}.ipynb" for n in SERIAL))')
NB_SHARED = $(filter-out $(NB_SERIAL),$(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb)))
NBVAL = $(if $(NBVAL_CPU_CAPABILITY),ATEN_CPU_CAPABILITY=$(NBVAL_CPU_CAPABILITY)) OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	FLOWLAB_RESULTS_DIR=$(CURDIR)/build/nbval/results FLOWLAB_FIGURES_DIR=$(CURDIR)/build/nbval/figures \
	$(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=1800 -q -p no:cacheprovider
test-notebooks: $(READY)
	rm -rf build/nbval
	$(NBVAL) -n auto --maxprocesses 4 --dist loadfile $(NB_SHARED)
	$(NBVAL) $(NB_SERIAL)
	FLOWLAB_CHECK_RESULTS=$(CURDIR)/build/nbval/results $(PY) -m pytest tests/lab/test_claims.py -q -p no:cacheprovider

bench: $(READY)
	$(PY) benchmarks/run.py

data: $(READY)
	$(PY) -m flowlab.data.download

# JupyterLab from the project's own environment (the `lab` extra), opened on the notebooks, with the
# project's kernel ("flowlab (Python 3)", the notebooks' kernelspec); as root too (containers, cloud VMs).
# LAB_ARGS passes options on, e.g. LAB_ARGS="--no-browser --port=8890".
LAB_ARGS ?=
lab: $(READY)
	$(PY) -m pip install --quiet --disable-pip-version-check -c $(VENV)/constraints.txt -e ".[lab]"
	$(PY) -m ipykernel install --sys-prefix --name flowlab --display-name "flowlab (Python 3)" > /dev/null
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# The static site (Jupyter Book 1.x) from the executed notebooks; nothing is re-executed.
book: $(READY)
	$(PY) -m flowlab.lab.book

clean:
	rm -rf build checkpoints .pytest_cache
