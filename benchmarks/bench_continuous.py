"""Continuous flows: one FFJORD training step against zuko's FFJ transform, and the cost of a divergence.

Equal settings on both sides: D = 2 features, a field MLP with two hidden layers of ``width`` ELU units
(zuko's default activation; ours concatenates t to every layer, zuko feeds 2x3 Fourier features of t to
the first), the Dormand-Prince 5(4) adaptive solver on [0, 1] with atol = 1e-6, rtol = 1e-5 (zuko's
defaults), float32, CPU, same thread count. A training step is ``log_prob`` of a batch -> mean NLL ->
backward -> Adam step, with the exact trace and with Hutchinson's estimator (Gaussian probes).

Gradients differ in method, so each of ours is timed: backpropagation through the solver
(torchdiffeq ``odeint``) and the adjoint (``odeint_adjoint``), with the seminorm (the CNF's default:
the backward step control ignores the parameter-gradient integral) and with the full norm; zuko uses
its adaptive checkpoint adjoint.
The solvers also differ in step control (zuko scales the log-det state by 1e-2 before error control),
so NFE need not match: ours is reported beside each row.

Second part: one Hutchinson divergence (field + one VJP) and one exact divergence (field + D VJPs)
relative to one evaluation of the field, ours on both sides of the ratio (peer = "field eval").
"""
from __future__ import annotations

import torch

from timing import interleaved, row, time_call


def _train_step(model_log_prob, params, x, ours: bool = False):
    """A step as each side's user takes it: ours with ``flowlab.train.fit``'s fused Adam, zuko's with the
    plain ``torch.optim.Adam`` of its documentation."""
    from flowlab.train.loop import adam

    # tiny lr: the field barely moves over the repeats
    opt = adam(params, 1e-5) if ours else torch.optim.Adam(params, lr=1e-5)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = -model_log_prob(x).mean()
        loss.backward()
        opt.step()

    return step


def run(quick: bool) -> list[dict]:
    import zuko

    from flowlab.estimators.trace import divergence_exact, divergence_hutchinson, draw_probes
    from flowlab.flows import CNF, FlowModel, StandardNormal
    from flowlab.measure.counting import CallCounter
    from flowlab.nn import TimeConcatMLP

    width, batch, repeats = (64, 256, 9) if quick else (128, 1024, 21)
    rows = []
    for exact in (True, False):
        trace = "exact" if exact else "hutchinson"
        torch.manual_seed(0)
        x = torch.randn(batch, 2) * 1.5
        peer = zuko.flows.CNF(2, hidden_features=(width, width), exact=exact, atol=1e-6, rtol=1e-5)
        peer_step = _train_step(lambda v, peer=peer: peer().log_prob(v), list(peer.parameters()), x)
        for adjoint, norm in ((False, None), (True, "seminorm"), (True, "full")):
            torch.manual_seed(0)
            cnf = CNF(TimeConcatMLP(2, (width, width), activation="elu"), 2, trace=trace, noise="gaussian",
                      method="dopri5", rtol=1e-5, atol=1e-6, adjoint=adjoint, adjoint_norm=norm or "seminorm")
            model = FlowModel(cnf, StandardNormal(2))
            with CallCounter(cnf.field) as field_calls:
                ours_s, peer_s = interleaved(_train_step(model.log_prob, list(model.parameters()), x, True), peer_step,
                                             repeats=repeats, warmup=1)
            nfe_per_step = field_calls.count / (repeats + 1)
            how = {None: "backprop", "seminorm": "adjoint", "full": "adjoint, full norm"}[norm]
            rows.append(row(f"FFJORD train step, {trace}, {how}",
                            ours_s, "zuko", peer_s, batch=batch, width=width,
                            ours_nfe_forward=cnf.nfe, ours_field_calls_per_step=round(nfe_per_step, 1)))

    field = TimeConcatMLP(2, (width, width), activation="elu")
    z = torch.randn(batch, 2)
    t = torch.tensor(0.5)
    noise = draw_probes(z.shape, "gaussian", torch.Generator().manual_seed(0), dtype=z.dtype)
    with torch.no_grad():
        field_s = time_call(lambda: field(t, z), repeats=50)
    hutch_s = time_call(lambda: divergence_hutchinson(lambda v: field(t, v), z, noise), repeats=50)
    exact_s = time_call(lambda: divergence_exact(lambda v: field(t, v), z), repeats=50)
    rows.append(row("Hutchinson divergence (field + 1 VJP)", hutch_s, "field eval", field_s, batch=batch, width=width))
    rows.append(row("exact divergence, D=2 (field + 2 VJPs)", exact_s, "field eval", field_s, batch=batch, width=width))
    return rows
