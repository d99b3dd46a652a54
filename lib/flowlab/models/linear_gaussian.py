r"""A latent-variable model whose posterior is known: the linear-Gaussian model (factor analysis with
isotropic noise), and the exact moments of the ELBO gap for a Gaussian :math:`q`.

.. math:: p(z) = \mathcal N(0, I_k), \qquad p(x | z) = \mathcal N(W z + c, s^2 I_d)
          \;\Rightarrow\; p(x) = \mathcal N(c, W W^\top + s^2 I_d), \quad
          p(z | x) = \mathcal N(m, \Lambda^{-1}),\ \Lambda = I + W^\top W / s^2,\ m = \Lambda^{-1} W^\top (x - c)/s^2.

For a diagonal :math:`q = \mathcal N(\mu, \mathrm{diag}\,v)` the ELBO is closed form and the identity
of lecture 001 ("But the receiver doesn't have p(z|x)?") can be checked exactly:
:math:`\log p(x) = \mathcal L[q] + \mathrm{KL}(q \| p(z|x))`.

**The gap, sampled.** With :math:`z = \mu + L\varepsilon`, :math:`L = \mathrm{diag}\sqrt v`, the
weight ratio :math:`r = p(z|x)/q(z) = w / p(x)` has
:math:`\log r = -\tfrac12 \varepsilon^\top A \varepsilon + b^\top \varepsilon + c_0` with
:math:`A = L\Lambda L - I`, :math:`b = -L\Lambda(\mu - m)`,
:math:`c_0 = \tfrac12\log\det\Lambda + \sum_i \log L_{ii} - \tfrac12 (\mu - m)^\top\Lambda(\mu - m)`. Then

.. math:: \mathrm{KL} = \tfrac12\operatorname{tr}A - c_0, \qquad
          \mathrm{Var}_q[\log w] = b^\top b + \tfrac12 \operatorname{tr}A^2, \qquad
          1 + \chi^2 = \mathbb E_q[r^2] = \det(I + 2A)^{-1/2} e^{2 b^\top (I + 2A)^{-1} b + 2 c_0},

finite when :math:`I + 2A \succ 0` (:math:`2\Lambda \succ \mathrm{diag}(1/v)`). The ELBO estimate
:math:`\hat{\mathcal L}_N = \frac1N\sum \log w_n` has mean :math:`\log p(x) - \mathrm{KL}` and variance
:math:`\mathrm{Var}[\log w]/N` exactly; the importance estimate :math:`\log \hat p_K = \log\frac1K\sum w_k`
(independent draws) has, by the delta method, mean :math:`\log p(x) - \chi^2/(2K) + O(K^{-2})` and
variance :math:`\chi^2/K + O(K^{-2})` (needing a finite :math:`\mathbb E[r^4]`: :math:`I + 4A \succ 0`). So

.. math:: z = \frac{\log\hat p_K - \hat{\mathcal L}_N - \mathrm{KL} + \chi^2/(2K)}
                   {\sqrt{\chi^2/K + \mathrm{Var}[\log w]/N}}

is approximately standard normal when the lecture's identity holds (:func:`elbo_gap_z`; its
false-alarm rate is checked by simulation in the tests).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from flowlab.validate import Count, IsA, Positive, Shape, check_shape, checked

LOG_2PI = math.log(2 * math.pi)


class LinearGaussian:
    """:math:`p(z) = N(0, I_k)`, :math:`p(x|z) = N(Wz + c, s^2 I_d)`; ``weight`` [d, k], ``bias`` [d]."""

    @checked
    def __init__(self, weight: Shape("d k"), bias: Shape("d"), noise_std: Positive):
        self.weight, self.bias, self.noise_std = weight, bias, noise_std
        self.d, self.k = weight.shape
        self.dtype = weight.dtype  # Shape checks every method's tensors against it
        eye = torch.eye(self.k, dtype=weight.dtype)
        self.precision = eye + weight.T @ weight / self.noise_std ** 2   # of p(z|x), the same for every x
        self.covariance = torch.linalg.inv(self.precision)

    def _x(self, x: Tensor, who: str) -> Tensor:
        return check_shape(x, (self.d,), who, like=self.weight)

    @checked
    def log_joint(self, x: Shape("B d"), z: Shape("S B k")) -> Tensor:
        """:math:`\\log p(x, z)` for ``x`` [B, d] and ``z`` [S, B, k]; returns [S, B]."""
        resid = x - z @ self.weight.T - self.bias
        s2 = self.noise_std ** 2
        log_lik = -0.5 * ((resid * resid).sum(-1) / s2 + self.d * (LOG_2PI + math.log(s2)))
        return log_lik - 0.5 * ((z * z).sum(-1) + self.k * LOG_2PI)

    def log_marginal(self, x: Tensor) -> Tensor:
        """:math:`\\log p(x) = \\log N(x; c, WW^\\top + s^2 I)` [B]."""
        self._x(x, "LinearGaussian.log_marginal")
        cov = self.weight @ self.weight.T + self.noise_std ** 2 * torch.eye(self.d, dtype=self.weight.dtype)
        dist = torch.distributions.MultivariateNormal(self.bias, covariance_matrix=cov)
        return dist.log_prob(x)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean [B, k] and covariance [k, k] of :math:`p(z|x)`."""
        self._x(x, "LinearGaussian.posterior")
        return (x - self.bias) @ self.weight @ self.covariance / self.noise_std ** 2, self.covariance

    @checked
    def elbo(self, x: Shape("B d"), q_mean: Shape("B k"), q_var: Shape("B k", positive=True)) -> Tensor:
        """The exact ELBO [B] of :math:`q = N(\\mu, \\mathrm{diag}\\,v)`: expected log-likelihood, minus
        the expected log prior, plus the entropy, all in closed form."""
        s2 = self.noise_std ** 2
        resid = x - q_mean @ self.weight.T - self.bias
        spread = q_var @ (self.weight * self.weight).sum(0)           # tr(W diag(v) W^T)
        exp_lik = -0.5 * (((resid * resid).sum(-1) + spread) / s2 + self.d * (LOG_2PI + math.log(s2)))
        exp_prior = -0.5 * ((q_mean * q_mean).sum(-1) + q_var.sum(-1) + self.k * LOG_2PI)
        entropy = 0.5 * (q_var.log() + 1 + LOG_2PI).sum(-1)
        return exp_lik + exp_prior + entropy


class GaussianGap(NamedTuple):
    """Exact moments of the gap for each datapoint [B]: KL, :math:`\\chi^2`, :math:`\\mathrm{Var}_q[\\log w]`,
    and whether :math:`\\mathbb E[r^4]` is finite (the delta method's condition)."""

    kl: Tensor
    chi2: Tensor
    var_log_w: Tensor
    fourth_moment_finite: Tensor


@checked
def gaussian_gap_moments(q_mean: Shape("B k"), q_var: Shape("B k", positive=True), p_mean: Shape("B k"),
                         p_cov: Shape("k k")) -> GaussianGap:
    """KL(q || p), :math:`\\chi^2(p \\| q)` and :math:`\\mathrm{Var}_q[\\log p/q]` for diagonal Gaussians
    ``q`` [B, k] against Gaussians ``p`` (mean [B, k], one covariance [k, k]); module docstring."""
    who, k = "gaussian_gap_moments", q_mean.shape[1]
    eye = torch.eye(k, dtype=q_mean.dtype)
    lam = torch.linalg.inv(p_cov)
    scale = q_var.sqrt()                                               # diagonal of L, [B, k]
    a = scale.unsqueeze(-1) * lam * scale.unsqueeze(-2) - eye          # [B, k, k]
    diff = q_mean - p_mean
    b = -scale * (diff @ lam)
    c0 = 0.5 * torch.linalg.slogdet(lam)[1] + scale.log().sum(-1) - 0.5 * ((diff @ lam) * diff).sum(-1)
    kl = 0.5 * torch.diagonal(a, dim1=-2, dim2=-1).sum(-1) - c0
    var_log_w = (b * b).sum(-1) + 0.5 * (a * a).sum((-1, -2))
    two = eye + 2 * a
    if bool((torch.linalg.eigvalsh(two) <= 0).any()):
        raise ValueError(f"{who}: chi^2(p || q) is infinite (q is too narrow: need 2 Lambda_p > diag(1/v)); widen q")
    sol = torch.linalg.solve(two, b.unsqueeze(-1)).squeeze(-1)
    log_second = -0.5 * torch.linalg.slogdet(two)[1] + 2 * (b * sol).sum(-1) + 2 * c0
    fourth = (torch.linalg.eigvalsh(eye + 4 * a) > 0).all(-1)
    return GaussianGap(kl, torch.expm1(log_second), var_log_w, fourth)


@checked
def elbo_gap_z(importance: Shape("B"), elbo: Shape("B"),
               moments: IsA(GaussianGap, "the GaussianGap of gaussian_gap_moments"), num_importance: Count,
               num_elbo: Count) -> Tensor:
    """z-scores [B] of :math:`\\log\\hat p_K - \\hat{\\mathcal L}_N` against the KL, with the importance
    estimate's bias :math:`-\\chi^2/(2K)` removed and the exact spread (module docstring)."""
    who = "elbo_gap_z"
    if importance.shape != moments.kl.shape:
        raise ValueError(f"{who}: importance, elbo must have moments.kl's shape {[*moments.kl.shape]}")
    if not bool(moments.fourth_moment_finite.all()):
        raise ValueError(f"{who}: E[r^4] is infinite for some datapoints; the delta-method band does not apply")
    k, n = num_importance, num_elbo
    bias = moments.chi2 / (2 * k)
    spread = (moments.chi2 / k + moments.var_log_w / n).sqrt()
    return (importance - elbo - moments.kl + bias) / spread
