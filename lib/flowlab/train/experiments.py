"""The lectures' orderings as experiments one command trains: ``python -m flowlab.train C11 --mode full``.

An experiment is a sweep, variants x seeds, with its quick-mode and full-mode settings (the notebook's
manifest reads its defaults from here). :func:`run_experiment` trains each variant's seeds together
(:func:`~flowlab.train.ensemble.fit_image_flow_ensemble`), the variants spread over torchrun's ranks when there
are several, into ``directory``: one checkpoint per variant, saved every ``checkpoint_every`` steps, so
that an interrupted run called again resumes where it was saved and a finished one loads without
training; and ``results.json``, every run's test bits/dim and history with the settings, the device and
the time it took, which is what a notebook reads.

A finished full-mode run can be published (:func:`publish`, ``python -m flowlab.train C11 --mode full
--publish``) into ``results/full/experiments/<EXPERIMENT>/<scale>/``: its ``results.json`` and the seed-0
weights of the variants the notebook draws samples from, a few hundred kB. That is the committed
reference: a notebook asking for ``references`` loads it instead of training when it has no checkpoint
of that scale, so a fresh clone reproduces the full-mode notebook in minutes.
"""
from __future__ import annotations

import dataclasses
import io
import json
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from flowlab.data.images import load_images
from flowlab.files import repo_root, write_bytes_atomic, write_json_atomic
from flowlab.flows.multiscale import COUPLINGS, PERMUTATIONS, hidden_for_budget, multiscale_model
from flowlab.measure.budget import count_parameters
from flowlab.train.distributed import gather, join, shard
from flowlab.train.ensemble import fit_image_flow_ensemble
from flowlab.train.loop import History, seed_everything, sweep
from flowlab.validate import Count0, MaybeCount, OneOf, checked

__all__ = ["EXPERIMENTS", "ImageAblation", "Settings", "default_directory", "publish", "reference_directory",
           "run_experiment"]


@dataclass(frozen=True)
class Settings:
    """One mode's scale: the data, the architecture (``levels`` x ``depth`` steps, conditioner width of
    the budget model ``hidden``), and the training (``steps`` per run, ``seeds`` per variant)."""

    dataset: str
    levels: int
    depth: int
    hidden: int
    steps: int
    seeds: int
    batch_size: int
    lr: float
    eval_every: int


@dataclass(frozen=True)
class ImageAblation:
    """Image flows that differ in their permutation and coupling, at one parameter budget: each variant's
    width is chosen so that its parameter count is the budget model's (``hidden_for_budget``)."""

    claim: str
    quick: Settings
    full: Settings
    variants: tuple[tuple[str, str], ...] = tuple((p, c) for c in COUPLINGS for p in PERMUTATIONS)
    shown: tuple[tuple[str, str], ...] = (("reverse", "affine"), ("conv", "affine"))  # sampled from; published

    def settings(self, mode: str, shape: tuple[int, int, int], *, dataset: str | None = None,
                 steps: int | None = None, seeds: int | None = None) -> Settings:
        """``mode``'s settings for images of ``shape``, with what is given in place of its defaults; at
        full scale the architecture follows the data (3 levels where the side divides by 8, a wider net
        for CIFAR-10)."""
        base = self.quick if mode == "quick" else self.full
        given = dict(dataset=dataset or base.dataset, steps=steps or base.steps, seeds=seeds or base.seeds)
        if mode == "full":
            wide = 256 if given["dataset"] == "cifar10" else base.hidden
            given.update(levels=3 if shape[1] % 8 == 0 else 2, hidden=wide)
        return dataclasses.replace(base, **given)


EXPERIMENTS = {
    "C11": ImageAblation(
        claim="C11",
        quick=Settings("digits", levels=2, depth=3, hidden=32, steps=300, seeds=3, batch_size=64, lr=2e-3,
                       eval_every=50),
        # full: what about two hours of a 2-core CPU afford (0.57 s a step for 5 seeds at 2 threads, 6 variants);
        # the paper's K = 32, hidden 512 on CIFAR-10 is a GPU's scale (--steps, --dataset)
        full=Settings("mnist5k", levels=2, depth=4, hidden=64, steps=2000, seeds=5, batch_size=64, lr=1e-3,
                      eval_every=250)),
}


def _variant_runs(exp: ImageAblation, variant, s: Settings, data, budget: int, seed: int, device: str,
                  directory: Path | None, checkpoint_every: int, progress: bool) -> dict:
    permutation, coupling = variant
    hidden = hidden_for_budget(budget, data.shape, s.levels, s.depth, permutation, coupling)
    models, generators = [], []
    for i in range(s.seeds):  # each seed's weights and data stream, as if it trained alone
        generators.append(seed_everything(1000 * seed + i))
        models.append(multiscale_model(data.shape, s.levels, s.depth, hidden, permutation, coupling,
                                       generator=generators[-1]))
    checkpoint = directory / f"{permutation}+{coupling}.pt" if directory is not None else None
    fits = fit_image_flow_ensemble(
        models, data.train, data.test, data.levels, steps=s.steps, batch_size=s.batch_size, lr=s.lr,
        generators=generators, eval_every=s.eval_every, device=device, desc=f"{permutation}/{coupling}",
        progress=progress, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        config={"experiment": exp.claim, "seed": seed, "hidden": hidden, **dataclasses.asdict(s)})
    return {(permutation, coupling, i): dict(history=history, bpd=bpd, hidden=hidden, params=count_parameters(model),
                                             model=model, cached=history.from_cache)
            for i, (model, (history, bpd)) in enumerate(zip(models, fits))}


def _scale(mode: str, settings: Settings, seed: int) -> str:
    return f"{mode}-{settings.dataset}-{settings.steps}steps-{settings.seeds}seeds-seed{seed}"


def default_directory(name: str, mode: str, settings: Settings, seed: int) -> Path:
    """Where a run of these settings keeps its checkpoints and results: a folder per scale, so that a
    run at other settings never overwrites one that took hours."""
    return repo_root() / "checkpoints" / name / _scale(mode, settings, seed)


def reference_directory(name: str, mode: str, settings: Settings, seed: int) -> Path:
    """Where the committed reference of a run of these settings is (:func:`publish`)."""
    sub = "" if mode == "quick" else mode
    return repo_root() / "results" / sub / "experiments" / name / _scale(mode, settings, seed)


def _weights_file(folder: Path, variant: tuple[str, str]) -> Path:
    return folder / f"{'+'.join(variant)}-seed0.pt"


def publish(name: str, runs: dict, record: dict, *, with_record: bool = True) -> Path:
    """Write a finished run's ``record`` (unless ``with_record`` is False: torchrun's ranks but the first)
    and the seed-0 weights of the experiment's ``shown`` variants that this process trained, as the
    committed reference of its scale; return its folder."""
    exp, s = EXPERIMENTS[name], Settings(**record["settings"])
    folder = reference_directory(name, record["mode"], s, record["seed"])
    folder.mkdir(parents=True, exist_ok=True)
    for variant in exp.shown:
        model = runs[(*variant, 0)]["model"]
        if model is not None:
            buf = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
            write_bytes_atomic(_weights_file(folder, variant), buf.getvalue())
    if with_record:
        write_json_atomic(folder / "results.json", record)
    return folder


def _load_reference(exp: ImageAblation, folder: Path, s: Settings, shape) -> tuple[dict, dict] | None:
    """The runs and record of the reference in ``folder``, or None when it is of other settings."""
    record = json.loads((folder / "results.json").read_text())
    if record["settings"] != dataclasses.asdict(s):
        warnings.warn(f"{folder}: a reference of other settings ({record['settings']}), not used; training instead",
                      stacklevel=3)
        return None
    runs = {}
    for key, run in record["runs"].items():
        permutation, coupling, i = key.split("+")
        runs[permutation, coupling, int(i)] = {**run, "history": History.from_dict(run["history"]), "model": None,
                                               "cached": True}
    for variant in exp.shown:
        path = _weights_file(folder, variant)
        if path.is_file():
            model = multiscale_model(shape, s.levels, s.depth, runs[(*variant, 0)]["hidden"], *variant)
            model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
            runs[(*variant, 0)]["model"] = model.eval()
    return runs, {**record, "reference": folder.relative_to(repo_root()).as_posix()}


@checked
def run_experiment(name: OneOf(tuple(EXPERIMENTS)), *, mode: OneOf(("quick", "full")) = "quick",
                   dataset: str | None = None, steps: MaybeCount = None, seeds: MaybeCount = None,
                   seed: Count0 = 0, device: str = "cpu", checkpoints: bool = False,
                   directory: str | Path | None = None, checkpoint_every: Count0 = 0,
                   references: bool = False, progress: bool = True) -> tuple[dict, dict]:
    """Train experiment ``name``'s sweep, or load it; return ``(runs, record)``.

    With ``checkpoints`` (or a ``directory``) the runs are checkpointed in ``directory`` (default:
    :func:`default_directory`), and finished ones load from there instead of training.

    ``runs[(permutation, coupling, i)]`` holds seed ``i``'s history, test bits/dim, width, parameter
    count and trained model (``cached``: loaded, not trained, this time); ``record`` is what
    ``results.json`` in ``directory`` holds (rewritten only when something trained), with
    ``train_seconds``, the wall time all its training took over every call that resumed it.

    With ``references`` and no checkpoint in ``directory``, the committed reference of these settings
    (:func:`publish`) is loaded where there is one: every run's numbers, and a model only for seed 0 of
    the ``shown`` variants (``record["reference"]`` names its folder). Under torchrun each
    rank trains every world-th variant, and only its own runs carry a model; every rank returns every
    run's numbers.
    """
    exp = EXPERIMENTS[name]
    data = load_images(dataset or (exp.quick if mode == "quick" else exp.full).dataset)
    s = exp.settings(mode, data.shape, dataset=dataset, steps=steps, seeds=seeds)
    budget = count_parameters(multiscale_model(data.shape, s.levels, s.depth, s.hidden).flow)
    if directory is None and checkpoints:
        directory = default_directory(name, mode, s, seed)
    directory = Path(directory) if directory is not None else None
    reference = reference_directory(name, mode, s, seed)
    if references and (reference / "results.json").is_file() and not (directory and any(directory.glob("*.pt"))):
        loaded = _load_reference(exp, reference, s, data.shape)
        if loaded is not None:
            return loaded
    rank = join()
    device = str(rank.device) if rank.world > 1 else device
    start, runs = time.perf_counter(), {}
    for variant in sweep(shard(exp.variants, rank), f"{name}: {len(exp.variants)} variants x {s.seeds} seeds"):
        runs.update(_variant_runs(exp, variant, s, data, budget, seed, device, directory, checkpoint_every,
                                  progress))
    numbers = {"+".join(map(str, k)): {n: (v.to_dict() if n == "history" else v) for n, v in run.items()
                                       if n != "model"} for k, run in runs.items()}
    numbers = gather(numbers, rank)
    record = {"experiment": name, "claim": exp.claim, "mode": mode, "seed": seed,
              "settings": dataclasses.asdict(s), "budget": budget, "device": device, "ranks": rank.world,
              "torch": torch.__version__, "machine": platform.machine(), "threads": torch.get_num_threads(),
              "seconds": round(time.perf_counter() - start, 1),
              "train_seconds": round(sum(r["history"]["seconds"] for k, r in numbers.items() if k.endswith("+0")), 1),
              "runs": numbers}
    trained = not all(run["cached"] for run in numbers.values())
    if directory is not None and rank.rank == 0 and (trained or not (directory / "results.json").is_file()):
        write_json_atomic(directory / "results.json", record)  # a load alone keeps the training's record
    for key, run in numbers.items():
        perm, coup, i = key.split("+")
        own = runs.get((perm, coup, int(i)))
        runs[perm, coup, int(i)] = own or {**run, "history": History.from_dict(run["history"]), "model": None}
    return runs, record
