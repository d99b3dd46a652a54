"""Discrete flows against their peers: RealNVP and Glow (normflows), MAF (zuko, nflows).

Equal architectures on both sides, built layer for layer:

- **Glow**: K steps of ActNorm -> LU 1x1 convolution -> affine channel coupling whose conditioner is
  3x3 conv -> ReLU -> 1x1 conv -> ReLU -> 3x3 conv with ``hidden`` channels, on ``[B, C, H, W]``
  images, standard normal base. Peer: normflows' ``GlowBlock`` (the same three layers, same net).
- **RealNVP**: the same with a fixed channel permutation instead of the 1x1 convolution (ours:
  reverse; normflows: ``Permute(mode="swap")``).
- **MAF**: L MADE-conditioned affine layers with alternating orders, two hidden layers of ``hidden``
  units, on vectors. Peers: zuko's ``MAF`` and nflows' ``MaskedAffineAutoregressiveTransform``
  (plain masked MLP: no residual blocks, no batch norm) with reverse permutations between layers.

Timed: ``log_prob`` of a batch (no grad) and one training step (``log_prob`` -> mean NLL -> backward ->
Adam step: ours is ``flowlab.train.fit``'s fused Adam, the peer's the plain one its documentation
uses); and our MAF step with its loss compiled by ``torch.compile`` against zuko's eager one.
Ours and the peer alternate within one loop (``timing.interleaved``); the ratio is the median of the
round-by-round ratios, with its quartiles. Same thread count, float32, CPU.
"""
from __future__ import annotations

import time
import warnings

import torch

from timing import interleaved, row


def _train_step(params, nll, ours: bool = False):
    """One step as each side's user takes it: ours as ``flowlab.train.fit`` does (its fused Adam), the
    peer's with the plain ``torch.optim.Adam`` its documentation trains with."""
    from flowlab.train.loop import adam

    # tiny lr: the models stay put over the repeats
    opt = adam(params, 1e-4) if ours else torch.optim.Adam(params, lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = nll()
        loss.backward()
        opt.step()

    return step


def _pair(name, ours_log_prob, ours_params, peer, peer_log_prob, peer_params, x, repeats, **extra):
    rows = []
    ours_step = _train_step(ours_params, lambda: -ours_log_prob(x).mean(), ours=True)
    peer_step = _train_step(peer_params, lambda: -peer_log_prob(x).mean())
    # One training step each first: the allocator settles after the first large backward, and
    # without this whichever model is timed first pays for it (~2x on its log_prob).
    ours_step(), peer_step()
    with torch.no_grad():
        ours_s, peer_s = interleaved(lambda: ours_log_prob(x), lambda: peer_log_prob(x), repeats)
    rows.append(row(f"{name} log_prob", ours_s, peer, peer_s, **extra))
    ours_s, peer_s = interleaved(ours_step, peer_step, repeats)
    rows.append(row(f"{name} train step", ours_s, peer, peer_s, **extra))
    return rows


def _image_models(kind, channels, size, steps, hidden):
    import normflows as nf

    from flowlab.flows import Compose, FlowModel, StandardNormal
    from flowlab.flows.multiscale import glow_step

    permutation = "conv" if kind == "glow" else "reverse"
    ours = FlowModel(Compose([glow_step(channels, hidden, permutation, "affine", lu=True)
                              for _ in range(steps)]), StandardNormal((channels, size, size)))
    flows = []
    for _ in range(steps):
        if kind == "glow":
            flows.append(nf.flows.GlowBlock(channels, hidden, scale=True, scale_map="sigmoid",
                                            split_mode="channel", use_lu=True))
        else:
            net = nf.nets.ConvNet2d([channels // 2, hidden, hidden, 2 * (channels - channels // 2)], (3, 1, 3))
            # normflows lists layers in the sampling direction: coupling, permutation, actnorm.
            flows += [nf.flows.AffineCouplingBlock(net, scale=True, scale_map="exp", split_mode="channel"),
                      nf.flows.Permute(channels, mode="swap"), nf.flows.ActNorm((channels, 1, 1))]
    peer = nf.NormalizingFlow(nf.distributions.DiagGaussian((channels, size, size), trainable=False), flows)
    return ours, peer


def _perturb(*models):
    # Move away from the identity init (zero last layers) so both sides do the same arithmetic.
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in models:
            for p in m.parameters():
                p.add_(0.01 * torch.randn(p.shape, generator=g))


def run(quick: bool) -> list[dict]:
    warnings.filterwarnings("ignore", message=".*torch.lu is deprecated")  # inside normflows
    torch.manual_seed(0)
    repeats = 15 if quick else 30  # interleaved rounds
    rows = []
    batch, channels, size, steps, hidden = (64, 8, 16, 4, 64) if quick else (64, 12, 16, 8, 128)
    x = torch.randn(batch, channels, size, size)
    for kind in ("realnvp", "glow"):
        ours, peer = _image_models(kind, channels, size, steps, hidden)
        with torch.no_grad():  # ActNorm's data-dependent init, both sides, on the same batch
            ours.log_prob(x), peer.log_prob(x)
        _perturb(ours, peer)
        extra = {"shape": [batch, channels, size, size], "steps": steps, "hidden": hidden,
                 "params_ours": sum(p.numel() for p in ours.parameters()),
                 "params_peer": sum(p.numel() for p in peer.parameters())}
        rows += _pair(kind, ours.log_prob, list(ours.parameters()), "normflows", peer.log_prob,
                      list(peer.parameters()), x, repeats, **extra)

    try:
        from flowlab.flows.autoregressive import maf
    except ImportError:  # written by another part of the project; skip if absent
        return rows
    import zuko
    from nflows.distributions import StandardNormal as NStandardNormal
    from nflows.flows import Flow as NFlow
    from nflows.transforms import CompositeTransform, ReversePermutation
    from nflows.transforms.autoregressive import MaskedAffineAutoregressiveTransform

    from flowlab.flows import FlowModel, StandardNormal

    batch, features, layers, hidden = (256, 64, 5, 128) if quick else (256, 784, 5, 1024)
    x = torch.randn(batch, features)
    ours = FlowModel(maf(features, num_layers=layers, hidden=hidden, layers=2), StandardNormal(features))
    z = zuko.flows.MAF(features, transforms=layers, hidden_features=(hidden, hidden))
    transforms = []
    for _ in range(layers):
        transforms += [MaskedAffineAutoregressiveTransform(features, hidden, num_blocks=1,
                                                           use_residual_blocks=False),
                       ReversePermutation(features)]
    n = NFlow(CompositeTransform(transforms[:-1]), NStandardNormal([features]))
    _perturb(ours, z, n)
    extra = {"shape": [batch, features], "layers": layers, "hidden": hidden,
             "params_ours": sum(p.numel() for p in ours.parameters())}
    rows += _pair("maf", ours.log_prob, list(ours.parameters()), "zuko", lambda v: z().log_prob(v),
                  list(z.parameters()), x, repeats, params_peer=sum(p.numel() for p in z.parameters()),
                  **{k: v for k, v in extra.items()})
    rows += _pair("maf", ours.log_prob, list(ours.parameters()), "nflows", n.log_prob,
                  list(n.parameters()), x, repeats, params_peer=sum(p.numel() for p in n.parameters()),
                  **extra)
    rows.append(_compiled_step(ours, z, x, repeats, **extra))
    return rows


def _compiled_step(ours, peer, x, repeats, **extra) -> dict:
    """Our MAF training step with its loss compiled by ``torch.compile`` (inductor, CPU; the input
    checks skipped inside ``trusted()``, as a training loop would) against zuko's eager step."""
    from flowlab.flows.base import trusted

    def nll(v):
        with trusted():
            return -ours.log_prob(v).mean()

    compiled = torch.compile(nll)
    ours_step = _train_step(list(ours.parameters()), lambda: compiled(x), ours=True)
    peer_step = _train_step(list(peer.parameters()), lambda: -peer().log_prob(x).mean())
    start = time.perf_counter()
    ours_step()  # compiles
    compile_s = time.perf_counter() - start
    ours_s, peer_s = interleaved(ours_step, peer_step, repeats)
    return row("maf train step, torch.compile", ours_s, "zuko", peer_s, compile_s=round(compile_s, 1), **extra)
