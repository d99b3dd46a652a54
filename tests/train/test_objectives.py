"""Objectives: the NLL of a batch (and a CNF's NFE, recorded each step by fit's eval_fn), the ELBO."""
import pytest
import torch

from flowlab.flows import CNF, ElementwiseAffine, FlowModel, StandardNormal
from flowlab.nn import TimeConcatMLP
from flowlab.train import fit, nll_loss


def test_nll_is_minus_the_mean_log_prob():
    model = FlowModel(ElementwiseAffine(2), StandardNormal(2))
    x = torch.randn(9, 2)
    assert torch.equal(nll_loss(model)(x), -model.log_prob(x).mean())


def test_a_cnfs_nfe_recorded_by_eval_fn_every_step_is_its_forward_solves():
    cnf = CNF(TimeConcatMLP(2, (4,), "tanh"), 2, rtol=1e-3, atol=1e-3)
    model, seen = FlowModel(cnf, StandardNormal(2)), []
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))

    def loss(batch):
        value = nll_loss(model)(batch)
        seen.append(cnf.nfe)  # right after the forward solve, before backward
        return value

    history = fit(model, loss, [x], steps=3, eval_fn=lambda: {"nfe": cnf.nfe}, eval_every=1, progress=False)
    assert [step for step, _ in history.evals["nfe"]] == [1, 2, 3]
    assert [n for _, n in history.evals["nfe"]] == seen and min(seen) > 0


def test_errors():
    with pytest.raises(TypeError, match="log_prob"):
        nll_loss(torch.nn.Linear(2, 2))


def test_kl_warmup_ramps_from_zero_to_one():
    from flowlab.train.objectives import kl_warmup

    assert [kl_warmup(t, 4) for t in (0, 1, 2, 4, 9)] == [0.0, 0.25, 0.5, 1.0, 1.0]
    assert kl_warmup(3, 0) == 1.0


def test_elbo_loss_weighs_the_kl_by_the_warmup_of_the_step_it_is_given():
    from flowlab.models import VAE, Bernoulli
    from flowlab.train import elbo_loss

    vae = VAE((1, 2, 2), Bernoulli(), latent=2, hidden=4, layers=1, context=4)
    x = torch.tensor([[0, 1, 1, 0]]).reshape(1, 1, 2, 2)
    betas = []
    loss = elbo_loss(vae, warmup_steps=2, generator=torch.Generator().manual_seed(0), betas=betas)
    values = [loss((step, x)) for step in (1, 2, 3)] + [loss((1, x))]  # a resumed run restarts at its step
    assert betas == [0.5, 1.0, 1.0, 0.5]
    g = torch.Generator().manual_seed(0)
    expected = [-vae.elbo(x, 1, beta, g).mean() for beta in betas]
    assert all(torch.allclose(v, e) for v, e in zip(values, expected))
    with pytest.raises(TypeError, match="elbo_loss: vae must be a flowlab.models VAE"):
        elbo_loss(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"a batch is \(step, images\)"):
        loss(x)
