r"""Statistical bands whose false-alarm rate is known: Bonferroni families, Pearson type III z-scores,
the exact null distribution of Hutchinson-type quadratic forms, and bootstrap errors of RMSE slopes.

A *stat* check compares a statistic with its value under the claim, in units of its spread under the
claim (the *null*). The band is only honest when that spread, and the shape of the tails, come from
the null itself, not from the sample under test: for heavy-tailed draws a spread estimated from the
same sample is low exactly when the statistic is far out, and the z-score gets heavy tails.

**Quadratic forms.** For a probe :math:`\varepsilon` with i.i.d. entries, mean 0 and variance 1,
:math:`Q = \varepsilon^\top A \varepsilon = \varepsilon^\top S \varepsilon` with
:math:`S = (A + A^\top)/2`. Its cumulants are known in closed form
(:func:`quadratic_form_cumulants`):

- Gaussian: :math:`Q = \sum_i \lambda_i \chi^2_{1,i}` over the eigenvalues of :math:`S`, so
  :math:`\kappa_r = 2^{r-1}(r-1)!\,\sum_i \lambda_i^r`;
- Rademacher: :math:`\varepsilon_i^2 = 1`, so :math:`Q = \operatorname{tr} S + \varepsilon^\top B \varepsilon`
  with :math:`B` the off-diagonal part of :math:`S`. By the moment-cumulant formula for the
  :math:`\varepsilon_i` (cumulants :math:`1, -2, 16` of orders 2, 4, 6), :math:`\kappa_r(Q)` is a sum
  over connected multigraphs with :math:`r` edges and even degrees, one factor :math:`B` per edge and
  :math:`\kappa_{\deg}` per vertex. With :math:`r_i = (B^2)_{ii}` and :math:`\circ` the elementwise
  product:

  .. math::
     \kappa_2 &= 2\operatorname{tr} B^2, \qquad \kappa_3 = 8 \operatorname{tr} B^3, \qquad
     \kappa_4 = 48 \operatorname{tr} B^4 - 96 \textstyle\sum_i r_i^2 + 32 \sum_{ij} B_{ij}^4, \\
     \kappa_6 &= 3840 \operatorname{tr} B^6 - 11520 \textstyle\sum_i (B^3)_{ii}^2
       - 23040 \sum_i r_i (B^4)_{ii} + 11520 \sum_{ij} B_{ij}^2 r_i r_j
       + 23040 \sum_{ij} B_{ij}^2 (B^2)_{ij}^2 \\
     &\quad + 15360 \textstyle\sum_{ij} B_{ij}^3 (B^3)_{ij}
       - 7680 \operatorname{tr}\big((B \circ B)^3\big) + 15360 \sum_i r_i^3
       - 30720 \sum_{ij} B_{ij}^4 r_j + 8192 \sum_{ij} B_{ij}^6

  (the tests check every term against enumeration of all :math:`2^m` sign vectors).

**Sample mean and sample variance of n draws.** From the cumulants of one draw, the mean
:math:`\bar Q` has mean :math:`\kappa_1`, variance :math:`\kappa_2/n`, third central moment
:math:`\kappa_3/n^2`; the unbiased sample variance :math:`s^2` (Fisher's :math:`k_2`) has mean
:math:`\kappa_2`, variance :math:`\kappa_4/n + 2\kappa_2^2/(n-1)` (that is
:math:`(\mu_4 - \frac{n-3}{n-1}\sigma^4)/n`) and third central moment
:math:`\kappa_6/n^2 + 12\kappa_2\kappa_4/(n(n-1)) + 4(n-2)\kappa_3^2/(n(n-1)^2) + 8\kappa_2^3/(n-1)^2`
(Kendall & Stuart, *The Advanced Theory of Statistics*, vol. 1, sec. 12.14).

**Reference distribution.** A normal band on :math:`s^2` is not enough at these sample sizes: with a
dominant eigenvalue (a 2D field) :math:`s^2` is right-skewed, and with Rademacher probes on a
:math:`2 \times 2` matrix :math:`(Q - \operatorname{tr} S)^2` is constant, so
:math:`s^2 - \sigma^2 \approx \sigma^2 (1 - \chi^2_1)/(n-1)` is all skew. :func:`pearson_z` maps a
statistic to the normal quantile of its Pearson type III law (a shifted, possibly reflected gamma)
matched on mean, variance and third moment: exact in the :math:`\chi^2_1` limit, normal when the
skew vanishes. The z-scores are then compared with a Bonferroni band (:func:`bonferroni_z`).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from scipy import special, stats
from torch import Tensor

from flowlab.validate import (
    Array,
    AtLeast,
    Count,
    Fraction,
    IsA,
    OneOf,
    Positive,
    Samples,
    SquareMatrices,
    check_tensor,
    checked,
)

__all__ = ["QuadraticFormCumulants", "bonferroni_z", "pearson_quantiles", "pearson_z",
           "quadratic_form_cumulants", "quadratic_form_z", "rmse_loglog_slope", "sample_mean_moments",
           "sample_variance_moments", "variance_band"]

NOISES = ("gaussian", "rademacher")
_NUMPY_RNG = IsA(np.random.Generator, "a numpy.random.Generator (every draw is seeded)")


class QuadraticFormCumulants(NamedTuple):
    r"""Cumulants :math:`\kappa_1, \kappa_2, \kappa_3, \kappa_4, \kappa_6` of one draw of
    :math:`\varepsilon^\top A \varepsilon`, each a float64 tensor of the batch shape of ``A``
    (:math:`\kappa_5` is not needed by any band here)."""

    k1: Tensor
    k2: Tensor
    k3: Tensor
    k4: Tensor
    k6: Tensor


def quadratic_form_cumulants(A: Tensor, noise: str) -> QuadraticFormCumulants:
    r"""Exact cumulants of :math:`Q = \varepsilon^\top A \varepsilon` for Gaussian or Rademacher
    :math:`\varepsilon` (formulas in the module docstring). ``A`` is ``[..., m, m]``; only its
    symmetric part matters. (The bands' moments; :func:`quadratic_form_z` and :func:`variance_band`
    validate ``A`` and ``noise``.)"""
    A = A.detach().to(torch.float64)
    S = (A + A.transpose(-1, -2)) / 2
    k1 = torch.diagonal(S, dim1=-2, dim2=-1).sum(-1)
    if noise == "gaussian":
        lam = torch.linalg.eigvalsh(S)
        k = {r: 2 ** (r - 1) * math.factorial(r - 1) * (lam ** r).sum(-1) for r in (2, 3, 4, 6)}
        return QuadraticFormCumulants(k1, k[2], k[3], k[4], k[6])
    B = S - torch.diag_embed(torch.diagonal(S, dim1=-2, dim2=-1))
    B2 = B @ B
    B3 = B2 @ B
    B4 = B2 @ B2
    def diag(M):
        return torch.diagonal(M, dim1=-2, dim2=-1)
    def tr(M):
        return diag(M).sum(-1)
    def total(M):
        return M.sum((-1, -2))
    r = diag(B2)                                   # r_i = sum_j B_ij^2
    H = B * B
    rr = r.unsqueeze(-1) * r.unsqueeze(-2)
    k2 = 2 * tr(B2)
    k3 = 8 * tr(B3)
    k4 = 48 * tr(B4) - 96 * (r ** 2).sum(-1) + 32 * total(H * H)
    k6 = (3840 * tr(B3 @ B3) - 11520 * (diag(B3) ** 2).sum(-1) - 23040 * (r * diag(B4)).sum(-1)
          + 11520 * total(H * rr) + 23040 * total(H * B2 ** 2) + 15360 * total(H * B * B3)
          - 7680 * tr(H @ H @ H) + 15360 * (r ** 3).sum(-1) - 30720 * total(H * H * r.unsqueeze(-2))
          + 8192 * total(H ** 3))
    return QuadraticFormCumulants(k1, k2, k3, k4, k6)


def sample_mean_moments(cum: QuadraticFormCumulants, n: int) -> tuple[Tensor, Tensor, Tensor]:
    """Mean, variance and third central moment of the mean of ``n`` i.i.d. draws."""
    return cum.k1, cum.k2 / n, cum.k3 / n ** 2


def sample_variance_moments(cum: QuadraticFormCumulants, n: int) -> tuple[Tensor, Tensor, Tensor]:
    r"""Mean, variance and third central moment of the unbiased sample variance of ``n >= 3`` i.i.d.
    draws, from the *theoretical* cumulants (never from the sample under test)."""
    k2, k3, k4, k6 = cum.k2, cum.k3, cum.k4, cum.k6
    var = k4 / n + 2 * k2 ** 2 / (n - 1)
    third = (k6 / n ** 2 + 12 * k2 * k4 / (n * (n - 1)) + 4 * (n - 2) * k3 ** 2 / (n * (n - 1) ** 2)
             + 8 * k2 ** 3 / (n - 1) ** 2)
    return k2, var, third


def _array(x, name: str, who: str) -> np.ndarray:
    """A number or an array of numbers as float64, NaN refused (infinite observations are allowed)."""
    if isinstance(x, Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must be a number or an array of numbers, got {type(x).__name__}") from None
    if np.isnan(a).any():
        raise ValueError(f"{who}: {name} contains NaN")
    return a


def _broadcast(who: str, **arrays) -> list[np.ndarray]:
    values = [_array(v, name, who) for name, v in arrays.items()]
    try:
        return np.broadcast_arrays(*values)
    except ValueError:
        raise ValueError(f"{who}: {', '.join(arrays)} do not broadcast: {[list(v.shape) for v in values]}") from None


def _out(z: np.ndarray):
    return float(z) if z.ndim == 0 else z


def pearson_z(x, mean, var, third):
    r"""Normal-equivalent z-score :math:`\Phi^{-1}(F(x))` of an observation ``x`` of a statistic whose
    null law has the given mean, variance (> 0) and third central moment, ``F`` being the Pearson
    type III law matched on those three moments (a gamma with skewness
    :math:`\gamma = \mu_3/\sigma^3`, shape :math:`4/\gamma^2`, reflected when :math:`\gamma < 0`;
    the normal when :math:`\gamma = 0`). Values outside the gamma's support give :math:`\mp\infty`.
    Arguments broadcast; returns a float or an array."""
    who = "pearson_z"
    x, mean, var, third = _broadcast(who, x=x, mean=mean, var=var, third=third)
    shape_out = x.shape
    x, mean, var, third = (np.atleast_1d(v).astype(np.float64) for v in (x, mean, var, third))
    if not (np.isfinite(mean).all() and np.isfinite(var).all() and np.isfinite(third).all() and (var > 0).all()):
        raise ValueError(f"{who}: the null moments must be finite and the variance positive, got variance {var}")
    sd = np.sqrt(var)
    skew = third / var ** 1.5
    z = (x - mean) / sd
    gam = np.abs(skew) > 1e-6          # below that the gamma's shape exceeds 4e12: the normal
    if gam.any():
        g = skew[gam]
        shape = 4 / g ** 2
        u = np.sign(g) * (x[gam] - mean[gam]) / (sd[gam] * np.abs(g) / 2) + shape   # gamma(shape, 1) variate
        with np.errstate(divide="ignore"):
            lower = stats.norm.ppf(special.gammainc(shape, np.maximum(u, 0)))
            upper = stats.norm.isf(special.gammaincc(shape, np.maximum(u, 0)))
        zg = np.where(u <= shape, lower, upper)   # the accurate tail on each side of the mean
        zg = np.where(u <= 0, -np.inf, zg)
        z[gam] = np.sign(g) * zg
    return _out(z.reshape(shape_out))


def pearson_quantiles(mean, var, third, z):
    """Inverse of :func:`pearson_z`: the values of the statistic whose z-scores are ``-z`` and ``+z``."""
    who = "pearson_quantiles"   # variance_band's (its z is checked there; a zero variance is refused here)
    mean, var, third, z = _broadcast(who, mean=mean, var=var, third=third, z=z)
    shape_out = mean.shape
    mean, var, third, z = (np.atleast_1d(v).astype(np.float64) for v in (mean, var, third, z))
    if (var <= 0).any():
        raise ValueError(f"{who}: the null variance must be positive")
    sd = np.sqrt(var)
    skew = third / var ** 1.5
    lo, hi = mean - z * sd, mean + z * sd
    gam = np.abs(skew) > 1e-6
    if gam.any():
        g = skew[gam]
        shape = 4 / g ** 2
        scale = sd[gam] * np.abs(g) / 2
        q_lo = special.gammaincinv(shape, stats.norm.sf(z[gam]))
        q_hi = special.gammainccinv(shape, stats.norm.sf(z[gam]))
        a = mean[gam] + np.sign(g) * (q_lo - shape) * scale
        b = mean[gam] + np.sign(g) * (q_hi - shape) * scale
        lo[gam], hi[gam] = np.minimum(a, b), np.maximum(a, b)
    return _out(lo.reshape(shape_out)), _out(hi.reshape(shape_out))


@checked
def bonferroni_z(alpha: Fraction, comparisons: Count, *, two_sided: bool = True) -> float:
    r"""Band, in z units, for ``comparisons`` z-scores so that a correct estimator fails any of them
    with probability at most ``alpha`` (Bonferroni: each at ``alpha / comparisons``). Holds for
    dependent z-scores too; for independent ones the rate is :math:`1 - (1 - \alpha/k)^k`, just below
    ``alpha``."""
    per = alpha / comparisons / (2 if two_sided else 1)
    return float(stats.norm.isf(per))


def _broadcasts_to(shape, batch: tuple) -> bool:
    try:
        return torch.broadcast_shapes(tuple(shape), batch) == batch
    except RuntimeError:
        return False


def _per_column(value, batch: tuple, name: str, who: str) -> Tensor:
    """A value per column of the samples (or one that broadcasts to them), finite, as float64."""
    if isinstance(value, Tensor):
        check_tensor(value, f"{who} (its {name})", nonempty=False)
    value = torch.as_tensor(value, dtype=torch.float64)
    if not _broadcasts_to(value.shape, batch) or not torch.isfinite(value).all():
        raise ValueError(f"{who}: {name} must be finite with the batch shape {list(batch)}, got {list(value.shape)}")
    return value


@checked
def quadratic_form_z(samples: Samples(3), A: SquareMatrices, noise: OneOf(NOISES), *, center: Tensor | None = None,
                     variance: Tensor | None = None, pool: bool = False):
    r"""z-scores of the sample mean and of the sample variance of ``n`` draws of
    :math:`c + \varepsilon^\top A \varepsilon`, against their exact null law.

    ``samples`` is ``[n, *batch]``: column ``samples[:, i]`` holds draws for the matrix ``A[i]``
    (``A [*batch, m, m]``, or a batch shape that broadcasts to the samples', e.g. the same matrices
    for many repetitions). ``center`` is the exact mean of each column (default
    :math:`\operatorname{tr} A`: plain Hutchinson draws; pass the exact value when the draws carry an
    offset, e.g. log-likelihoods); ``variance`` is the variance of one draw under test (default
    :math:`\kappa_2`; pass the formula a claim asserts, e.g. ``hutchinson_variance(A, noise)``, so that
    the check tests it: the band's spread and skew still come from the cumulants).

    With ``pool=True`` the columns along the *last* batch dimension (the points) are independent and
    one z-score per statistic is taken of their sum, every column's deviation in units of its own null
    standard deviation (so each point weighs the same; the null moments of the sum add). Unweighted
    sums would let the point with the largest variance dominate: for Rademacher probes on
    :math:`2 \times 2` matrices each point's :math:`s^2` is bounded above by :math:`\sigma^2 n/(n-1)`, and
    a sum dominated by one such point is a bounded, one-term statistic that no three-moment law
    describes.

    Both z-scores come from :func:`pearson_z` with moments from :func:`quadratic_form_cumulants`; a
    correct estimator gives :math:`|z|` above :func:`bonferroni_z` at the stated rate. Returns
    ``(z_mean, z_var)``: arrays of the batch shape (without its last dimension when pooled), or floats."""
    who = "quadratic_form_z"
    s = samples.detach().to(torch.float64)
    batch = tuple(s.shape[1:])
    if not _broadcasts_to(A.shape[:-2], batch) or (pool and not batch):
        raise ValueError(f"{who}: samples [n, *batch] must have the batch shape of A [*batch, m, m] or one it "
                         f"broadcasts to (pool=True: a batch dimension); got {list(s.shape)} and A {list(A.shape)}")
    cum = quadratic_form_cumulants(A, noise)
    n = s.shape[0]
    center = cum.k1 if center is None else _per_column(center, batch, "center", who)
    claimed = cum.k2 if variance is None else _per_column(variance, batch, "variance", who)
    _, m_var, m_third = sample_mean_moments(cum, n)
    _, v_var, v_third = sample_variance_moments(cum, n)
    dev_mean = s.mean(0) - center
    dev_var = s.var(0) - claimed
    if pool:
        def pooled(dev, var, third):
            var, third = var.expand(batch), third.expand(batch)
            return pearson_z((dev / var.sqrt()).sum(-1), 0.0, float(batch[-1]), (third / var ** 1.5).sum(-1))
        return pooled(dev_mean, m_var, m_third), pooled(dev_var, v_var, v_third)
    return pearson_z(dev_mean, 0.0, m_var, m_third), pearson_z(dev_var, 0.0, v_var, v_third)


@checked
def variance_band(A: SquareMatrices, noise: OneOf(NOISES), n: AtLeast(3), z: Positive):
    r"""The interval of sample variances of ``n`` draws of :math:`\varepsilon^\top A \varepsilon`
    inside a band of ``z`` (e.g. :func:`bonferroni_z`): the values whose :func:`quadratic_form_z`
    variance score is :math:`\pm z`. Returns ``(low, high)``, arrays of the batch shape or floats."""
    mean, var, third = sample_variance_moments(quadratic_form_cumulants(A, noise), n)
    return pearson_quantiles(mean, var, third, z)


@checked
def rmse_loglog_slope(x: Array, errors: Array, *, n_boot: AtLeast(2) = 300, rng: _NUMPY_RNG) -> tuple[float, float]:
    r"""Log-log slope of the root-mean-square error against ``x`` and its bootstrap standard error.

    ``errors`` is ``[len(x), trials]``: row ``i`` holds independent errors of an estimator run at
    ``x[i]`` (e.g. a trace estimate with ``x[i]`` products). The slope is the least-squares slope of
    :math:`\log \mathrm{RMSE}_i` on :math:`\log x_i`; its standard error is the spread (ddof 1) of
    the same slope over ``n_boot`` resamplings of the trials (the same resampled trial indices for
    every ``x``), drawn from ``rng``. A band of 3 such errors around a slope the estimator has
    exactly (Hutchinson's :math:`-1/2`) fails it with probability about 0.3%."""
    who, e = "rmse_loglog_slope", errors
    if x.ndim != 1 or len(x) < 2 or (x <= 0).any():
        raise ValueError(f"{who}: x must be at least 2 positive finite numbers, got {x.tolist()}")
    if e.ndim != 2 or e.shape[0] != len(x) or e.shape[1] < 2:
        raise ValueError(f"{who}: errors must be [len(x), trials >= 2] = [{len(x)}, ...], got {list(e.shape)}")
    lx = np.log(x) - np.log(x).mean()

    def slopes(rmse):  # rows of log-RMSE curves -> their least-squares slopes
        ly = np.log(rmse)
        return ((ly - ly.mean(-1, keepdims=True)) * lx).sum(-1) / (lx ** 2).sum()

    rmse = np.sqrt((e ** 2).mean(-1))
    if (rmse <= 0).any():
        raise ValueError(f"{who}: an RMSE of zero has no logarithm (errors of exactly 0 at some x)")
    idx = rng.integers(0, e.shape[1], size=(n_boot, e.shape[1]))
    boot = np.sqrt((e[:, idx] ** 2).mean(-1)).T                    # [n_boot, len(x)]
    return float(slopes(rmse)), float(np.std(slopes(boot), ddof=1))
