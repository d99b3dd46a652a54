import pytest
import torch
from torch import nn

from flowlab.train import fit, seed_everything
from flowlab.train.loop import NonFiniteLossError


def regression_problem(seed):
    g = seed_everything(seed)
    x = torch.randn(256, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(256, generator=g)
    model = nn.Linear(3, 1)
    def loss(batch):
        return ((model(batch[0]).squeeze(1) - batch[1]) ** 2).mean()
    return model, loss, [(x, y)]


def test_fit_reduces_loss_and_is_deterministic():
    model, loss, data = regression_problem(0)
    h1 = fit(model, loss, data, steps=300, lr=0.05, progress=False)
    assert h1.losses[-1] < 0.05 * h1.losses[0]
    model2, loss2, data2 = regression_problem(0)
    h2 = fit(model2, loss2, data2, steps=300, lr=0.05, progress=False)
    assert h1.losses == h2.losses


def test_nan_guard_names_the_step():
    model = nn.Linear(1, 1)
    calls = {"n": 0}

    def loss(_):
        calls["n"] += 1
        return model.weight.sum() * (float("nan") if calls["n"] == 7 else 1.0)

    with pytest.raises(NonFiniteLossError, match="at step 7 of 10"):
        fit(model, loss, [None], steps=10, progress=False)


def test_checkpoint_cache(tmp_path):
    ckpt = tmp_path / "model.pt"
    model, loss, data = regression_problem(1)
    h1 = fit(model, loss, data, steps=50, lr=0.05, checkpoint=ckpt, config={"k": 1}, progress=False)
    model2, loss2, data2 = regression_problem(2)
    h2 = fit(model2, loss2, data2, steps=50, lr=0.05, checkpoint=ckpt, config={"k": 1}, progress=False)
    assert h2.from_cache and h2.losses == h1.losses
    assert torch.equal(model2.weight, model.weight)
    h3 = fit(model2, loss2, data2, steps=50, lr=0.05, checkpoint=ckpt, config={"k": 2}, progress=False)
    assert not h3.from_cache
    torch.load(ckpt, weights_only=True)  # the cache is loadable without unpickling code


def test_bad_arguments():
    model, loss, data = regression_problem(0)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        fit(model, loss, data, steps=-1)
    with pytest.raises(ValueError, match="scalar"):
        fit(model, lambda b: model(b[0]), data, steps=1, progress=False)


def test_a_vector_of_losses_steps_on_their_sum_and_records_each():
    model, loss, data = regression_problem(3)
    twin, twin_loss, _ = regression_problem(3)
    twin.load_state_dict(model.state_dict())
    summed = fit(model, lambda b: loss(b) + 2 * loss(b), data, steps=5, lr=0.05, progress=False)
    parts = fit(twin, lambda b: torch.stack([twin_loss(b), 2 * twin_loss(b)]), data, steps=5, lr=0.05,
                progress=False)
    assert all(len(p) == 2 and p[1] == pytest.approx(2 * p[0]) for p in parts.losses)
    assert [sum(p) for p in parts.losses] == pytest.approx(summed.losses, rel=1e-6)
    assert torch.allclose(model.weight, twin.weight, rtol=1e-6)


def test_a_resume_with_other_generators_is_refused(tmp_path):
    ckpt = tmp_path / "run.pt"
    model, loss, data = regression_problem(4)
    gens = [torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)]

    calls = iter(range(1, 100))

    def dies_at_step_4(batch):
        if next(calls) == 4:
            raise KeyboardInterrupt
        return loss(batch)

    with pytest.raises(KeyboardInterrupt):
        fit(model, dies_at_step_4, data, steps=6, checkpoint=ckpt, checkpoint_every=2, generators=gens,
            progress=False)
    with pytest.raises(ValueError, match="saved mid-run with 2 generators' states, but 1 were passed"):
        fit(model, loss, data, steps=6, checkpoint=ckpt, checkpoint_every=2, generators=gens[:1], progress=False)
