"""Objectives: the NLL of a batch, and the per-step NFE log of a CNF."""
import pytest
import torch

from flowlab.flows import CNF, ElementwiseAffine, FlowModel, StandardNormal
from flowlab.nn import TimeConcatMLP
from flowlab.train import fit, nll_loss


def test_nll_is_minus_the_mean_log_prob():
    model = FlowModel(ElementwiseAffine(2), StandardNormal(2))
    x = torch.randn(9, 2)
    assert torch.equal(nll_loss(model)(x), -model.log_prob(x).mean())


def test_nfe_log_records_the_forward_solve_of_every_step():
    cnf = CNF(TimeConcatMLP(2, (4,), "tanh"), 2, rtol=1e-3, atol=1e-3)
    log = []
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    fit(cnf, nll_loss(FlowModel(cnf, StandardNormal(2)), nfe_of=cnf, nfe_log=log), [x], steps=3, progress=False)
    assert len(log) == 3 and all(n > 0 for n in log)


def test_errors():
    model = FlowModel(ElementwiseAffine(2), StandardNormal(2))
    with pytest.raises(ValueError, match="give both nfe_of"):
        nll_loss(model, nfe_log=[])
