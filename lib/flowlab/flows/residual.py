r"""Invertible residual blocks (i-ResNet, Behrmann et al. 2019; Residual Flows, Chen et al. 2019).

The block is :math:`f(x) = x + h\,g(x)` in the normalizing direction (``forward``), with ``step``
:math:`h` (1 for a plain block; an Euler step :math:`z + h f(z)` of an ODE otherwise). When
:math:`h\,\mathrm{Lip}(g) = L < 1`, :math:`f` is a bijection (Theorem 1 of the lectures): for any
:math:`z`, :math:`x \mapsto z - h\,g(x)` is a contraction, and by Banach's fixed-point theorem

.. math:: x_0 = z, \qquad x_{k+1} = z - h\,g(x_k) \quad\longrightarrow\quad f^{-1}(z),
          \qquad \|x_k - f^{-1}(z)\| \le L^k \|x_0 - f^{-1}(z)\| = L^k\,\|h\,g(f^{-1}(z))\| .

``inverse`` runs this iteration (Algorithm 1) until successive iterates differ by at most
``tol * (1 + max|z|)`` or ``max_iter`` iterations have passed; then, or as soon as an iterate stops
being finite, it raises :class:`FixedPointError` naming the block, the iterations and the last step
(the usual cause: :math:`h\,\mathrm{Lip}(g) \ge 1`).

:math:`g` defaults to a :class:`~flowlab.nn.LipschitzMLP` (spectral normalisation by power
iteration, coefficient ``coeff`` per layer, LipSwish activations). Power iterations run once per
``forward`` in training mode: the block's output, its log-det and an ``inverse`` all see the same
normalised weights (:func:`~flowlab.nn.lipschitz.frozen_power_iteration`).

The log-det :math:`\log|\det(I + hJ_g)|` comes from :mod:`flowlab.estimators.logdet_series`:
``"exact"`` (slogdet of the full Jacobian, small dimensions), ``"series"`` (the power series
truncated at ``terms``, Hutchinson probes: biased) or ``"roulette"`` (Russian roulette: unbiased).
``inverse`` returns minus the forward log-det at the reconstructed point (the inverse itself is
computed without gradients: it is the sampling path).
"""
from __future__ import annotations

import torch
from torch import Tensor

from flowlab.estimators.logdet_series import TRUNCATIONS, logdet_exact, roulette_logdet, truncated_logdet
from flowlab.estimators.trace import NOISES
from flowlab.flows.base import Flow
from flowlab.nn import LipschitzMLP
from flowlab.nn.lipschitz import frozen_power_iteration
from flowlab.validate import Count, Count0, Fraction, IsA, MaybeModule, MaybePositive, OneOf, Positive, Rng, checked

LOGDETS = ("exact", "series", "roulette")
SETTINGS = {"logdet": OneOf(LOGDETS), "terms": Count, "probes": Count, "noise": OneOf(NOISES),
            "truncation": OneOf(TRUNCATIONS), "p": Fraction, "lam": Positive, "exact_terms": Count0,
            "tol": MaybePositive, "max_iter": Count}


class FixedPointError(ValueError):
    """The fixed-point inverse of a residual block did not converge (its residual is not a contraction)."""


class ResidualFlow(Flow):
    r"""An invertible residual block :math:`x \mapsto x + h\,g(x)` (see the module docstring).

    Args:
        features: the event size :math:`D`.
        g: the residual network ``[B, D] -> [B, D]``; default a :class:`~flowlab.nn.LipschitzMLP`
            of ``hidden`` units, ``layers`` hidden layers, ``coeff`` per layer.
        step: :math:`h`; invertible when :math:`h\,\mathrm{Lip}(g) < 1`.
        logdet: ``"exact"``, ``"series"`` (``terms``) or ``"roulette"`` (``truncation``, ``p`` or
            ``lam``, ``exact_terms``); ``probes`` and ``noise`` for the estimators.
        tol, max_iter: the inverse's stopping rule (``tol`` default: 1e-12 in float64, 1e-6 otherwise).
        generator: a torch Generator for the estimators' draws (default: the global RNG).
        name: how errors name the block (default ``"ResidualFlow"``).
    """

    SETTINGS = SETTINGS

    @checked
    def __init__(self, features: Count, g: MaybeModule = None, *, hidden: int = 64, layers: int = 2,
                 coeff: float = 0.9, n_power_iterations: int = 1, step: Positive = 1.0, logdet: str = "exact",
                 terms: int = 10, probes: int = 1, noise: str = "gaussian", truncation: str = "geometric",
                 p: float = 0.5, lam: float = 2.0, exact_terms: int = 2, tol: float | None = None,
                 max_iter: int = 1000, generator: Rng = None, name: IsA((str, type(None)), "a string") = None):
        super().__init__()
        if g is None:  # hidden, layers, coeff and n_power_iterations are checked by LipschitzMLP
            g = LipschitzMLP(features, hidden, layers, coeff=coeff, n_power_iterations=n_power_iterations)
        self.features, self.g, self.step, self.generator = features, g, step, generator
        self.name = name or "ResidualFlow"
        self.event_shape = (self.features,)
        for setting, value in dict(logdet=logdet, terms=terms, probes=probes, noise=noise, truncation=truncation,
                                   p=p, lam=lam, exact_terms=exact_terms, tol=tol, max_iter=max_iter).items():
            setattr(self, setting, value)  # checked by _check_setting

    def residual(self, x: Tensor) -> Tensor:
        r""":math:`h\,g(x)`, without input checks (it runs inside the estimators and the iteration)."""
        return self.step * self.g(x)

    def lipschitz_bound(self) -> float:
        r""":math:`h \prod_l \|\tilde W_l\|_2`: an upper bound on :math:`h\,\mathrm{Lip}(g)` (needs ``g`` with
        ``lipschitz_bound()``, as :class:`~flowlab.nn.LipschitzMLP` has)."""
        if not callable(getattr(self.g, "lipschitz_bound", None)):
            raise TypeError(f"{self.name}: its g ({type(self.g).__name__}) has no lipschitz_bound()")
        return self.step * self.g.lipschitz_bound()

    def _logdet(self, x: Tensor) -> Tensor:
        with frozen_power_iteration(self.g):
            if self.logdet == "exact":
                return logdet_exact(self.residual, x)
            gen = self.generator if self.generator is not None else torch.default_generator
            if self.logdet == "series":
                return truncated_logdet(self.residual, x, terms=self.terms, probes=self.probes, noise=self.noise,
                                        generator=gen)
            return roulette_logdet(self.residual, x, truncation=self.truncation, p=self.p, lam=self.lam,
                                   exact_terms=self.exact_terms, probes=self.probes, noise=self.noise, generator=gen)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(x + h g(x), log|det(I + h J_g)|)``; one round of power iteration first in training mode."""
        z = x + self.residual(x)
        return z, self._logdet(x)

    def _tolerance(self, z: Tensor) -> float:
        tol = self.tol if self.tol is not None else (1e-12 if z.dtype == torch.float64 else 1e-6)
        return tol * (1.0 + float(z.abs().max()))

    @torch.no_grad()
    @checked
    def inverse_iterates(self, z: Tensor, iterations: Count0) -> Tensor:
        """The first ``iterations`` fixed-point iterates :math:`x_0 = z, x_1, \\dots`: ``[iterations + 1, B, D]``."""
        self.check_input(z, who=f"{self.name}.inverse_iterates")
        xs = [z]
        with frozen_power_iteration(self.g):
            for _ in range(iterations):
                xs.append(z - self.residual(xs[-1]))
        return torch.stack(xs)

    @torch.no_grad()
    def _fixed_point(self, z: Tensor, who: str) -> Tensor:
        tol, x = self._tolerance(z), z
        blowup = 1e10 * (1.0 + float(z.abs().max()))   # an iterate this far from z is diverging
        steps: list[float] = []
        with frozen_power_iteration(self.g):
            for k in range(1, self.max_iter + 1):
                x_new = z - self.residual(x)
                finite = bool(torch.isfinite(x_new).all())
                steps.append(float((x_new - x).abs().max()) if finite else float("inf"))
                x = x_new
                if steps[-1] <= tol:
                    self.iterations = k
                    return x
                if not finite or steps[-1] > blowup:
                    break
        ratio = steps[-1] / steps[-2] if len(steps) > 1 and steps[-2] > 0 else float("nan")
        stopped = "diverged" if not steps[-1] <= blowup else "did not converge"
        raise FixedPointError(
            f"{who}: the fixed-point iteration x <- z - h g(x) {stopped} after {k} iterations (last residual "
            f"max|x_k+1 - x_k| = {steps[-1]:.3g}, tolerance {tol:.3g}; last ratio of residuals {ratio:.3g}, "
            f"a lower bound on h Lip(g)). It converges only when h Lip(g) < 1 (step h = "
            f"{self.step:g}): keep every spectral-normalisation coeff below 1, or raise max_iter (now "
            f"{self.max_iter}) if the contraction is merely slow")

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``(x, -log|det(I + h J_g(x))|)`` with ``x`` the fixed point of ``x = z - h g(x)``."""
        x = self._fixed_point(z, self.name_of("inverse"))
        return x, -self._logdet(x)
