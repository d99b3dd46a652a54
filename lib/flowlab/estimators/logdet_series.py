r"""The log-determinant of :math:`I + J` as a power series: truncated, and unbiased by Russian roulette.

For a residual block :math:`f(x) = x + g(x)` with :math:`\mathrm{Lip}(g) < 1`, every eigenvalue of
:math:`J = \partial g/\partial x` has modulus below 1 and (Jacobi's formula, then the series of
:math:`\log(1 + \lambda)`)

.. math:: \log|\det(I + J)| = \operatorname{tr}\log(I + J)
          = \sum_{k=1}^\infty \frac{(-1)^{k+1}}{k}\operatorname{tr}(J^k).

Every trace is estimated by Hutchinson, :math:`\operatorname{tr}(J^k) = \mathbb E[v^\top J^k v]`, with
the probes of :func:`flowlab.estimators.trace.draw_probes` and :math:`k` products
:math:`v^\top J, (v^\top J)J, \dots` with the operator of :func:`flowlab.estimators.as_operator`
(vector-Jacobian products for a function at a point, differentiable: usable as a training loss).

- **Truncated** at :math:`n` terms (i-ResNet): biased by exactly the tail
  :math:`\sum_{k>n} (-1)^{k+1}\operatorname{tr}(J^k)/k`; for a spectrum :math:`\lambda_i` the tail is
  :math:`\sum_i [\log(1+\lambda_i) - \sum_{k \le n} (-1)^{k+1}\lambda_i^k/k]` (:func:`series_tail`), and
  i-ResNet's Theorem 3 bounds it by :math:`-d\,(\ln(1 - L) + \sum_{k\le n} L^k/k)` with
  :math:`L = \mathrm{Lip}(g)` (:func:`iresnet_tail_bound`).
- **Russian roulette** (Residual Flows): draw the number of terms :math:`N = m + K` (``exact_terms``
  :math:`m` always kept) and weight term :math:`k` by :math:`1/P(N \ge k)`:

  .. math:: \log|\det(I + J)| = \mathbb E_{N, v}\Big[\sum_{k=1}^{N}
            \frac{(-1)^{k+1}}{k\,P(N \ge k)}\, v^\top J^k v\Big],

  unbiased because :math:`\mathbb E[\mathbf 1\{k \le N\}] = P(N \ge k)`. ``truncation="geometric"``:
  :math:`P(K \ge j) = (1-p)^j`; ``"poisson"``: :math:`K \sim \mathrm{Poisson}(\lambda)`. (Residual
  Flows' ``n_exact_terms = m - 1`` with numpy's geometric on :math:`\{1, 2, ..\}` is the same law.)

**Variance.** The second moment is :math:`\sum_{j,k} a_j a_k / P(N \ge \min(j,k))`,
:math:`a_k = (-1)^{k+1}\operatorname{tr}(J^k)/k \sim \rho^k/k` (:math:`\rho` the spectral radius), so
it is finite iff :math:`\sum_k \rho^{2k}/(k^2 P(N \ge k)) < \infty`:

- geometric(:math:`p`): finite iff :math:`\rho^2 \le 1 - p`; for :math:`p = 1/2`, iff
  :math:`2\rho^2 \le 1` (sufficient: :math:`2\,\mathrm{Lip}^2 \le 1`). Beyond, the draws have a power
  tail :math:`P(|X| > t) \sim t^{-\alpha}` with :math:`\alpha = \ln(1-p)/\ln((1-p)/\rho) < 2`;
- Poisson: :math:`1/P(N \ge k)` grows like :math:`k!/\lambda^k`: infinite variance for every
  :math:`\rho > 0`, and most of the mean sits in events too rare to be sampled.

:func:`roulette_moments` computes the exact mean and the partial sums of the second moment of one
draw for a matrix, by summing over the law of :math:`N` (probes exactly through
:func:`~flowlab.estimators.hutchinson_variance`): they converge where the variance is finite and
grow without bound where it is not.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from flowlab.estimators.trace import NOISES, _form_variance, _operator, draw_probes
from flowlab.validate import (
    Count,
    Count0,
    FloatTensor,
    Fraction,
    FractionIn,
    Number,
    OneOf,
    Positive,
    Samples,
    SeededRng,
    SquareMatrix,
    checked,
)

# The law of N = m + K: exact_terms m >= 0, K geometric(p) (p in (0, 1); p = 1 is the series truncated after
# exact_terms: truncated_logdet) or Poisson(lam), lam > 0. The estimators declare it in their signatures.
TRUNCATIONS = ("geometric", "poisson")


def _coefficients(terms: int, dtype, device) -> Tensor:
    k = torch.arange(1, terms + 1, dtype=dtype, device=device)
    return torch.where(k % 2 == 1, 1.0, -1.0).to(dtype) / k


def _power_forms(A, V: Tensor, terms: int):
    r"""Yield :math:`v^\top A^k v` for :math:`k = 1..` ``terms``, every row ``v`` of ``V`` (``V.shape[:-1]``)."""
    w = V
    for _ in range(terms):
        w = A(w)
        yield (w * V).sum(-1)


def _basis(A) -> Tensor:
    """The basis vectors e_1..e_m, one per leading index, for every batch entry: ``[m, *batch, m]``."""
    eye = torch.eye(A.dim, dtype=A.dtype, device=A.device)
    return eye.reshape(A.dim, *([1] * len(A.batch_shape)), A.dim).expand(A.dim, *A.batch_shape, A.dim)


def _probes(A, shape, noise, generator) -> Tensor:
    # drawn where the generator lives, then moved: a CPU generator can seed probes for a GPU operator
    return draw_probes(shape, noise, generator, dtype=A.dtype, device=generator.device).to(A.device)


@checked
def power_traces(op, x: Tensor | None = None, *, dim: int | None = None, terms: Count) -> Tensor:
    r"""Exact :math:`\operatorname{tr}(A^k)`, :math:`k = 1..` ``terms``: basis vectors through the
    operator, :math:`m` products per power. Returns ``[terms, *batch]``."""
    A = _operator(op, x, dim, "power_traces")
    return torch.stack([form.sum(0) for form in _power_forms(A, _basis(A), terms)])


def logdet_exact(op, x: Tensor | None = None, *, dim: int | None = None) -> Tensor:
    r""":math:`\log|\det(I + A)|` by ``slogdet`` of the full matrix (``m`` products; small ``m`` only).
    Differentiable; ``[*batch]``."""
    A = _operator(op, x, dim, "logdet_exact")
    rows = A(_basis(A)).movedim(0, -2)   # the transpose of A (a VJP gives rows): the same determinant
    return torch.linalg.slogdet(torch.eye(A.dim, dtype=A.dtype, device=A.device) + rows)[1]


@checked
def truncated_logdet_samples(op, x: Tensor | None = None, *, dim: int | None = None, terms: Count,
                             probes: Count = 1, noise: OneOf(NOISES) = "gaussian", generator: SeededRng) -> Tensor:
    r"""``probes`` independent draws of :math:`\sum_{k \le n} (-1)^{k+1} v^\top A^k v / k`
    (``terms`` :math:`= n`): ``[probes, *batch]``. Their mean is :math:`\sum_{k\le n}(-1)^{k+1}
    \operatorname{tr}(A^k)/k`, biased by the tail of the series."""
    return _truncated(_operator(op, x, dim, "truncated_logdet_samples"), terms, probes, noise, generator)


def _truncated(A, terms: int, probes: int, noise: str, generator: torch.Generator) -> Tensor:
    V = _probes(A, (probes, *A.batch_shape, A.dim), noise, generator)
    coef = _coefficients(terms, torch.float64, "cpu").tolist()
    return sum(c * form for c, form in zip(coef, _power_forms(A, V, terms)))


def truncated_logdet(op, x: Tensor | None = None, *, dim: int | None = None, terms: int, probes: int = 1,
                     noise: str = "gaussian", generator: torch.Generator) -> Tensor:
    """The truncated series averaged over ``probes`` probes: ``[*batch]``. ResidualFlow's, at every
    forward pass: it trusts the settings (the block checked them when they were set)."""
    return _truncated(_operator(op, x, dim, "truncated_logdet"), terms, probes, noise, generator).mean(0)


def _log_tail_poisson(j: Tensor, lam: float) -> Tensor:
    # log P(K >= j), K ~ Poisson(lam), by log-sum-exp of the pmf from j on: no 1 - cdf cancellation.
    span = int(lam + 20 * math.sqrt(lam) + 60)
    i = j.unsqueeze(-1) + torch.arange(span, dtype=j.dtype, device=j.device)
    logpmf = i * math.log(lam) - lam - torch.lgamma(i + 1)
    return torch.logsumexp(logpmf, dim=-1)


def roulette_log_survival(k, *, truncation: str = "geometric", p: float = 0.5, lam: float = 2.0,
                          exact_terms: int = 2) -> Tensor:
    r""":math:`\log P(N \ge k)` for term indices ``k`` (>= 1) under :math:`N = m + K`: zero for
    :math:`k \le m`, :math:`(k - m)\log(1-p)` (geometric) or the Poisson tail. float64. (The roulette
    estimators' weights; they validate the law.)"""
    k = torch.as_tensor(k, dtype=torch.float64)
    j = (k - exact_terms).clamp_min(0)
    if truncation == "geometric":
        return j * math.log1p(-p)
    return torch.where(j > 0, _log_tail_poisson(j, lam), torch.zeros_like(j))


def _draw_extra(shape, truncation, p, lam, generator, device) -> Tensor:
    if truncation == "geometric":
        u = 1 - torch.rand(shape, generator=generator, dtype=torch.float64, device=device)  # (0, 1]
        return torch.floor(torch.log(u) / math.log1p(-p)).long()
    rate = torch.full(shape, float(lam), dtype=torch.float64, device=device)
    return torch.poisson(rate, generator=generator).long()


@checked
def roulette_logdet_samples(op, x: Tensor | None = None, *, dim: int | None = None,
                            truncation: OneOf(TRUNCATIONS) = "geometric", p: Fraction = 0.5, lam: Positive = 2.0,
                            exact_terms: Count0 = 2, probes: Count = 1, noise: OneOf(NOISES) = "gaussian",
                            generator: SeededRng) -> Tensor:
    r"""``probes`` independent Russian-roulette draws (each its own :math:`N` and probe) of
    :math:`\sum_{k\le N} (-1)^{k+1} v^\top A^k v / (k\,P(N \ge k))`: ``[probes, *batch]``, unbiased for
    :math:`\log|\det(I + A)|` when the series converges (:math:`\rho(A) < 1`)."""
    A = _operator(op, x, dim, "roulette_logdet_samples")
    return _roulette(A, truncation, p, lam, exact_terms, probes, noise, generator)


def _roulette(A, truncation: str, p: float, lam: float, exact_terms: int, probes: int, noise: str,
              generator: torch.Generator) -> Tensor:
    shape = (probes, *A.batch_shape)
    N = exact_terms + _draw_extra(shape, truncation, p, lam, generator, generator.device).to(A.device)
    n_max = int(N.max())
    V = _probes(A, (*shape, A.dim), noise, generator)
    if n_max == 0:
        return V.new_zeros(shape)
    log_s = roulette_log_survival(torch.arange(1, n_max + 1), truncation=truncation, p=p, lam=lam,
                                  exact_terms=exact_terms)
    weight = (_coefficients(n_max, torch.float64, "cpu") * torch.exp(-log_s)).tolist()
    total = V.new_zeros(shape)
    for k, (w, form) in enumerate(zip(weight, _power_forms(A, V, n_max)), start=1):
        total = total + torch.where(N >= k, w * form, 0.0)
    return total


def roulette_logdet(op, x: Tensor | None = None, *, dim: int | None = None, truncation: str = "geometric",
                    p: float = 0.5, lam: float = 2.0, exact_terms: int = 2, probes: int = 1,
                    noise: str = "gaussian", generator: torch.Generator) -> Tensor:
    """The Russian-roulette estimate averaged over ``probes`` draws: ``[*batch]``. ResidualFlow's, at every
    forward pass: it trusts the settings (the block checked them when they were set)."""
    A = _operator(op, x, dim, "roulette_logdet")
    return _roulette(A, truncation, p, lam, exact_terms, probes, noise, generator).mean(0)


# ------------------------------------------------------------------------- closed forms and laws
@checked
def series_tail(eigenvalues: FloatTensor, terms: Count0) -> Tensor:
    r"""The tail :math:`\sum_{k>n}(-1)^{k+1}\operatorname{tr}(J^k)/k` for a spectrum of real
    eigenvalues in :math:`(-1, 1)`: :math:`\sum_i [\log(1+\lambda_i) - \sum_{k\le n}(-1)^{k+1}\lambda_i^k/k]`."""
    who = "series_tail"
    lam = eigenvalues.to(torch.float64)
    if lam.dim() != 1 or (lam.abs() >= 1).any():
        raise ValueError(f"{who} expects a vector of real eigenvalues of modulus < 1 (the series converges), got "
                         f"shape {list(lam.shape)}, max |lambda| {lam.abs().max():.4g}")
    head = sum(((-1) ** (k + 1)) * lam ** k / k for k in range(1, terms + 1)) if terms else 0.0
    return (torch.log1p(lam) - head).sum()


@checked
def iresnet_tail_bound(lip: FractionIn(zero=True), dim: Count, terms: Count0) -> float:
    r"""i-ResNet (Behrmann et al. 2019, Thm 3): :math:`|\text{tail}| \le -d\,(\ln(1 - L) + \sum_{k\le n} L^k/k)`."""
    return -dim * (math.log1p(-lip) + sum(lip ** k / k for k in range(1, terms + 1)))


@checked
def roulette_variance_finite(rho: Number, *, truncation: OneOf(TRUNCATIONS) = "geometric", p: Fraction = 0.5) -> bool:
    r"""Whether one roulette draw has finite variance at spectral radius ``rho``: :math:`\rho^2 \le 1 - p`
    (geometric), :math:`\rho = 0` (Poisson)."""
    return rho ** 2 <= 1 - p if truncation == "geometric" else rho == 0


class RouletteMoments(NamedTuple):
    mean: Tensor            # E[X], summed over the law of N (= log|det(I + J)| for rho < 1)
    variance: Tensor        # Var X from the partial sums up to ``max_terms`` (inf or growing if infinite)
    partial_second: Tensor  # [max_terms + 1] E[X^2 ; N <= n]: converges iff the variance is finite


@checked
def roulette_moments(J: SquareMatrix, *, truncation: OneOf(TRUNCATIONS) = "geometric", p: Fraction = 0.5,
                     lam: Positive = 2.0, exact_terms: Count0 = 2, noise: OneOf(NOISES) = "gaussian",
                     max_terms: Count = 100) -> RouletteMoments:
    r"""Exact moments of one roulette draw for a matrix ``J [m, m]``, by summing over
    :math:`N = n \le` ``max_terms``:
    :math:`E[X^2] = \sum_n P(N=n)\,(\mathrm{Var}_v(v^\top M_n v) + (\operatorname{tr} M_n)^2)`,
    :math:`M_n = \sum_{k \le n} (-1)^{k+1} J^k / (k\,P(N\ge k))`, computed as :math:`\sqrt{P(N=n)}\,M_n`
    so that no weight overflows."""
    J = J.detach().to(torch.float64)
    powers = [J]
    for _ in range(max_terms - 1):
        powers.append(powers[-1] @ J)
    P = torch.stack(powers)                                        # [K, m, m]: J^1 .. J^K
    n = torch.arange(0, max_terms + 1, dtype=torch.float64)
    k = torch.arange(1, max_terms + 1, dtype=torch.float64)
    log_sn = torch.cat([torch.zeros(1, dtype=torch.float64),   # log P(N >= n), n = 0 .. max_terms + 1
                        roulette_log_survival(torch.arange(1, max_terms + 2, dtype=torch.float64),
                                              truncation=truncation, p=p, lam=lam, exact_terms=exact_terms)])
    log_s = log_sn[1:-1]                                           # log P(N >= k), k = 1 .. max_terms
    # P(N = n) = P(N >= n) - P(N >= n + 1), in logs: log P(N >= n) + log(1 - exp(diff))
    drop = log_sn[1:] - log_sn[:-1]
    log_pn = torch.where(drop < 0, log_sn[:-1] + torch.log(-torch.expm1(drop.clamp_max(-1e-300))), -math.inf)
    below = k[None, :] <= n[:, None]
    coef = _coefficients(max_terms, torch.float64, "cpu")
    traces = torch.diagonal(P, dim1=-2, dim2=-1).sum(-1)
    # E[X] = sum_n P(N=n) sum_{k<=n} c_k tr(J^k) / P(N>=k): exponents log P(N=n) - log P(N>=k) <= 0
    mean = torch.where(below, coef * traces * torch.exp(log_pn[:, None] - log_s[None, :]), 0.0).sum()
    # E[X^2] through sqrt(P(N=n)) M_n, whose weights may still overflow where the variance is infinite
    half = torch.where(below, coef * torch.exp(0.5 * log_pn[:, None] - log_s[None, :]), 0.0)
    M = torch.einsum("nk,kij->nij", half, P)
    finite = torch.isfinite(M).all(-1).all(-1)
    safe = torch.where(finite[:, None, None], M, 0.0)
    second = _form_variance(safe, noise) + torch.diagonal(safe, dim1=-2, dim2=-1).sum(-1) ** 2
    partial_second = torch.cumsum(torch.where(finite, second, math.inf), 0)
    return RouletteMoments(mean, partial_second[-1] - mean ** 2, partial_second)


@checked
def sample_mean_z(samples: Samples(2), expected) -> Tensor:
    r"""z-score of the sample mean of i.i.d. ``samples`` (first dimension) against ``expected``, in units
    of the sample's own standard error :math:`s/\sqrt n`."""
    n = samples.shape[0]
    expected = torch.as_tensor(expected, dtype=samples.dtype, device=samples.device)
    return (samples.mean(0) - expected) / (samples.std(0) / math.sqrt(n))
