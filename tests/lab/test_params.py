import pytest
import torch

from flowlab.lab import manifest
from flowlab.lab.params import notebook_params
from flowlab.lab.specs import Param


def test_defaults_and_pick():
    p = notebook_params(steps=10)
    assert p.mode == "quick" and p.seed == 0 and p.steps == 10
    assert p.device == ("cuda" if torch.cuda.is_available() else "cpu")  # "auto" picks the accelerator
    assert notebook_params(device="cpu").device == "cpu"
    assert p.pick(1, 2) == 1 and notebook_params(mode="full").pick(1, 2) == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "fast"}, "unknown mode 'fast'; expected one of"),
    ({"seed": -1}, "seed must be a.* integer >= 0"),
    ({"steps": -5}, "steps must be a positive integer"),
    ({"device": "tpu"}, "unknown device"),
])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        notebook_params(**kwargs)


@pytest.mark.parametrize("kwargs", [{"steps": 2.5}, {"seed": True}, {"steps": "10"}])
def test_non_integer_counts_are_type_errors(kwargs):
    with pytest.raises(TypeError, match="must be an integer"):
        notebook_params(**kwargs)


def test_params_name_what_they_have_when_asked_for_a_missing_one():
    p = notebook_params(steps=10)
    with pytest.raises(AttributeError, match=r"no 'seeds'; they have mode, seed, device, steps"):
        _ = p.seeds


@pytest.mark.parametrize("name, meant", [("mdoe", "mode"), ("sead", "seed"), ("devcie", "device")])
def test_near_misses_of_the_common_parameters_are_refused(name, meant):
    with pytest.raises(ValueError, match=f"no parameter '{name}' \\(did you mean '{meant}'\\?\\)"):
        notebook_params(**{name: "full" if meant == "mode" else 5})


def test_counts_that_only_look_like_common_parameters_are_accepted():
    assert notebook_params(seeds=3, steps=2, samples=4).seeds == 3  # a plural is a count of its own


def test_declared_names_refuse_every_other_name_and_fill_the_modes_default():
    declared = {"steps": Param(500, 5000, "training steps"), "dataset": Param("digits", "mnist5k", "images",
                                                                                choices=("digits", "mnist5k"))}
    p = notebook_params(declared=declared, steps=3)
    assert (p.steps, p.dataset) == (3, "digits")
    assert notebook_params(mode="full", declared=declared).steps == 5000
    assert notebook_params(declared=declared).steps == 500
    with pytest.raises(ValueError, match=r"no parameter 'stpes' \(did you mean 'steps'\?\); "
                                         r"known parameters: mode, seed, device, steps, dataset"):
        notebook_params(declared=declared, stpes=3)
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'; expected one of \('digits', 'mnist5k'\)"):
        notebook_params(declared=declared, dataset="cifar")
    with pytest.raises(TypeError, match="steps must be an integer"):
        notebook_params(declared=declared, steps=2.5)


def test_setup_refuses_a_name_the_manifest_does_not_declare_and_fills_its_defaults():
    from flowlab.lab import setup

    with pytest.raises(ValueError, match=r"01_change_of_variables has no parameter 'sead' \(did you mean 'seed'\?\); "
                                         r"known parameters: mode, seed, device, samples"):
        setup("01_change_of_variables", sead=5)
    with pytest.raises(ValueError, match=r"no parameter 'steps'; known parameters: mode, seed, device, samples"):
        setup("01_change_of_variables", steps=5)
    with pytest.raises(ValueError, match=r"in flowlab.lab.manifest.*\(did you mean '01_change_of_variables'"):
        setup("01_change_of_variable")
    p, _, _ = setup("01_change_of_variables", seed=2, device="cpu", samples=7)
    assert (p.seed, p.samples) == (2, 7)
    expected = manifest.BY_NAME["01_change_of_variables"].params["samples"]
    assert setup("01_change_of_variables", device="cpu").p.samples == expected.quick
    assert setup("01_change_of_variables", mode="full", device="cpu").p.samples == expected.full


PARAMETERS_CELL = ('from typing import Optional\n\nmode: str = "quick"  # quick or full\nseed: int = 0\n'
                   'device: str = "auto"\nsamples: Optional[int] = None  # Monte Carlo samples')


@pytest.fixture
def notebook_repo(tmp_path, monkeypatch):
    """A repository whose notebooks/01_change_of_variables.ipynb declares mode, seed, device, samples."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(PARAMETERS_CELL)
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "01_change_of_variables.ipynb")
    monkeypatch.setenv("FLOWLAB_ROOT", str(tmp_path))
    return tmp_path


def test_declared_defaults_are_read_from_the_parameters_cell(notebook_repo):
    from flowlab.lab.params import declared_defaults, is_default

    defaults = declared_defaults(notebook_repo / "notebooks" / "01_change_of_variables.ipynb")
    assert defaults == {"mode": "quick", "seed": 0, "device": "auto", "samples": None}
    assert is_default(0, defaults["seed"]) and not is_default(3, defaults["seed"])
    assert not is_default(0.0, defaults["seed"]) and is_default(None, defaults["samples"])


def test_a_default_run_writes_the_references_and_a_given_value_does_not(monkeypatch, tmp_path):
    """The mode's defaults filled in by setup() are still the reference run; a value given is not."""
    from flowlab.lab import setup
    from flowlab.lab.outputs import results_dir

    monkeypatch.delenv("FLOWLAB_RESULTS_DIR", raising=False)
    monkeypatch.setenv("FLOWLAB_ROOT", str(tmp_path))
    assert results_dir(setup("01_change_of_variables", device="cpu").p) == tmp_path / "results"
    assert results_dir(setup("01_change_of_variables", device="cpu", samples=10).p) != tmp_path / "results"


def test_full_mode_runs_keep_checkpoints_per_notebook_mode_and_seed_and_quick_runs_none(monkeypatch, tmp_path):
    from flowlab.lab import setup

    monkeypatch.setenv("FLOWLAB_ROOT", str(tmp_path))
    assert setup("12_ffjord_toy", device="cpu").p.checkpoint("moons-exact-seed0") is None
    full = setup("12_ffjord_toy", mode="full", seed=3, device="cpu").p
    folder = tmp_path / "checkpoints" / "12_ffjord_toy" / "full-seed3"
    assert full.checkpoint("moons-exact-seed0") == folder / "moons-exact-seed0.pt"
    with pytest.raises(ValueError, match="without '/'"):
        full.checkpoint("../escape")
    with pytest.raises(ValueError, match="notebook's name"):
        notebook_params(mode="full").checkpoint("run")


def test_a_published_number_travels_with_its_source_and_beside_a_number_of_ours(capsys):
    from flowlab.lab import setup
    from flowlab.lab.report import published

    _, book, _ = setup("03_glow_vs_realnvp", device="cpu")
    with pytest.raises(ValueError, match=r"C11 display 'bits/dim': a published number needs its source="):
        book.display("C11", "bits/dim", ours=2.27, published=3.49)
    with pytest.raises(ValueError, match=r"C11 display 'bits/dim' has no number of ours"):
        book.display("C11", "bits/dim", ours=None, published=3.49, source="CIFAR-10, Kingma & Dhariwal 2018")
    book.display("C11", "bits/dim", ours=2.27, published=3.49, source="CIFAR-10, Kingma & Dhariwal 2018, Table 2")
    book.display("C11", "seconds", ours=1.5, published=None)
    line = "· C11 bits/dim: ours 2.27; published 3.49 (CIFAR-10, Kingma & Dhariwal 2018, Table 2)"
    assert capsys.readouterr().out.strip() == line
    claim = {"display": book.records["C11"]["display"]}
    assert published(claim) == "bits/dim: 3.49 (CIFAR-10, Kingma & Dhariwal 2018, Table 2), ours 2.27"


def test_the_training_behind_the_results_is_saved_with_them(tmp_path, monkeypatch):
    import json

    from flowlab.lab import setup

    monkeypatch.setenv("FLOWLAB_RESULTS_DIR", str(tmp_path))
    _, book, _ = setup("12_ffjord_toy", device="cpu")
    assert "training" not in json.loads(book.save().read_text()), "no training recorded, none saved"
    for bad in (-1.0, float("nan"), "2 h", None):
        with pytest.raises(ValueError, match="trained: seconds must be a finite number >= 0"):
            book.trained(bad, "cpu")
    book.trained(8640.5, "cpu")
    assert json.loads(book.save().read_text())["training"] == {"seconds": 8640.5, "device": "cpu"}
