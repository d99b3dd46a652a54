"""Reverse-KL fitting of flow samplers to energies: the KL of the exact answer, single and vmapped
ensemble fits and their resumption (the stacked CNF field itself: tests/test_nn.py)."""
import math

import pytest
import torch

from flowlab.data import log_normalizer
from flowlab.data.energies import energy
from flowlab.flows import Compose, PlanarFlow
from flowlab.train import fit_reverse_kl_cnf_ensemble, fit_reverse_kl_ensemble, kl_to_target
from flowlab.train.reverse_kl import fit_reverse_kl, reverse_kl_loss
from tests.train.interrupt import interrupt_and_resume


def test_kl_of_the_exact_answer_is_zero():
    # With u = w = 0 the planar flow is the identity (u-hat = 0), so q = N(0, I): against
    # U = |z|^2/2 the KL is 0 for every sample.
    f = PlanarFlow(2)
    with torch.no_grad():
        f.u.zero_()
        f.w.zero_()
    u = lambda z: 0.5 * (z ** 2).sum(-1)  # noqa: E731
    kl, se = kl_to_target(f, u, log_normalizer(u), n=1000, generator=torch.Generator().manual_seed(0))
    assert abs(kl) < 1e-5 and se < 1e-5


def test_ensemble_fit_lowers_the_loss():
    flows, hist = fit_reverse_kl_ensemble(lambda: Compose([PlanarFlow(2) for _ in range(2)]), ["U2"], [0, 1],
                                          steps=30, batch=64, lr=0.02)
    assert set(flows) == {("U2", 0), ("U2", 1)}
    assert flows[("U2", 0)][0].u.data.ne(flows[("U2", 1)][0].u.data).any()
    assert sum(hist.losses[-5:]) < sum(hist.losses[:5])
    gen = torch.Generator().manual_seed(0)
    assert torch.isfinite(reverse_kl_loss(flows[("U2", 1)], energy("U2"), 100, gen))


def test_cnf_ensemble_and_single_fit_run():
    flows, hist = fit_reverse_kl_cnf_ensemble(["U1", "U4"], [0], hidden=4, steps=3, batch=16, lr=0.01)
    assert set(flows) == {("U1", 0), ("U4", 0)} and len(hist.losses) == 3
    kl, se = kl_to_target(flows[("U4", 0)], energy("U4"), 0.0, n=50, generator=torch.Generator().manual_seed(0))
    assert math.isfinite(kl) and math.isfinite(se)
    hist = fit_reverse_kl(Compose([PlanarFlow(2)]), energy("U2"), steps=3, batch=16, lr=0.01, seed=0)
    assert len(hist.losses) == 3


@pytest.mark.parametrize("which", ["planar", "cnf"])
def test_an_ensemble_fit_stopped_mid_way_resumes_to_the_uninterrupted_flows(which, tmp_path, monkeypatch):
    import flowlab.train.loop as loop

    def fit_it(checkpoint=None):
        resume = dict(steps=6, batch=16, checkpoint=checkpoint, checkpoint_every=2)
        if which == "planar":
            return fit_reverse_kl_ensemble(lambda: Compose([PlanarFlow(2) for _ in range(2)]), ["U2"], [0, 1],
                                           lr=0.02, **resume)
        return fit_reverse_kl_cnf_ensemble(["U1"], [0, 1], hidden=4, lr=0.01, **resume)

    whole, whole_history = fit_it()
    # _guarded_step(model, loss, opt, params, clip, desc, step, steps)
    (resumed, history), taken = interrupt_and_resume(
        monkeypatch, loop, "_guarded_step", fit_it, tmp_path / "fit.pt", step_of=lambda args: args[-2])
    assert taken == [5, 6]  # it resumed after the last save, not from the start
    assert history.losses == whole_history.losses and len(history.losses) == 6
    for key, flow in whole.items():
        assert all(torch.equal(a, b) for a, b in zip(flow.state_dict().values(), resumed[key].state_dict().values()))
