r"""A small GAN, its losses, and the density ratio a discriminator estimates (lecture 001, GANs).

**Density ratio.** Label real samples :math:`y = 1` (from :math:`p^*`) and fakes :math:`y = 0` (from
:math:`q`), equally many. By Bayes' rule :math:`p^*(x)/q(x) = P(y{=}1|x)/P(y{=}0|x)`, so the optimal
discriminator is :math:`D^*(x) = p^*(x)/(p^*(x) + q(x))` and its logit is
:math:`\log D^* - \log(1 - D^*) = \log p^*(x) - \log q(x)`. A :class:`Discriminator` returns that
logit :math:`\ell(x)`, :math:`D = \sigma(\ell)`.

**Losses** (all means over a batch, written on logits so that they are stable):

- discriminator: :math:`\mathcal L_D = \mathbb E_{p^*}[-\log D(x)] + \mathbb E_z[-\log(1 - D(G(z)))]`
  (the lecture's combined loss, maximised over :math:`D`, with its sign turned into a minimisation);
- minimax generator: :math:`\mathcal L_G = \mathbb E_z[\log(1 - D(G(z)))] = -\mathbb E\,\mathrm{softplus}(\ell)`;
- non-saturating generator: :math:`\mathcal L_G = -\mathbb E_z[\log D(G(z))] = \mathbb E\,\mathrm{softplus}(-\ell)`.

Per fake, :math:`\partial \mathcal L^{mm}/\partial \ell = -D` and
:math:`\partial \mathcal L^{ns}/\partial \ell = -(1 - D)`: when the discriminator rejects fakes
confidently (:math:`D \to 0`) the minimax gradient vanishes and the non-saturating one does not.

**A well-specified ratio estimator.** For two Gaussians :math:`\log p^*/q` is quadratic in :math:`x`,
so logistic regression on :func:`quadratic_features` contains :math:`D^*`. Its maximum-likelihood fit
(:func:`fit_logistic`, Newton's method) is asymptotically normal with covariance the inverse Fisher
information :math:`(\sum_i \phi_i\phi_i^\top D_i(1 - D_i))^{-1}`, which gives each fitted logit a
standard error from the sample size alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowlab.nn.conditioners import MLP
from flowlab.validate import Count, Rng, Shape, Vectors, check_shape, checked


class Generator(nn.Module):
    """:math:`G: z \\mapsto x`, an MLP from ``latent_dim`` noise to ``features`` dimensions."""

    @checked
    def __init__(self, latent_dim: Count, features: Count, hidden: Count = 64, layers: Count = 2):
        super().__init__()
        self.latent_dim, self.features = latent_dim, features
        self.net = MLP(latent_dim, features, hidden, layers, activation=nn.LeakyReLU, zero_last=False)

    def forward(self, z: Tensor) -> Tensor:
        check_shape(z, (self.latent_dim,), "Generator", like=self.net[0].weight)
        return self.net(z)

    @checked
    def sample(self, n: Count, generator: Rng = None) -> Tensor:
        """``n`` fakes in one pass: :math:`G(z)`, :math:`z \\sim \\mathcal N(0, I)`."""
        w = self.net[0].weight
        return self(torch.randn(n, self.latent_dim, generator=generator, dtype=w.dtype).to(w.device))


class Discriminator(nn.Module):
    """The logit :math:`\\ell(x)` of :math:`D(x) = \\sigma(\\ell(x))`, shape [batch]."""

    @checked
    def __init__(self, features: Count, hidden: Count = 64, layers: Count = 2):
        super().__init__()
        self.features = features
        self.net = MLP(features, 1, hidden, layers, activation=nn.LeakyReLU, zero_last=False)

    def forward(self, x: Tensor) -> Tensor:
        check_shape(x, (self.features,), "Discriminator", like=self.net[0].weight)
        return self.net(x).squeeze(-1)

    def prob(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self(x))


@checked
def discriminator_loss(real_logits: Shape("B"), fake_logits: Shape("N")) -> Tensor:
    """:math:`\\mathbb E[-\\log D(x)] + \\mathbb E[-\\log(1 - D(\\tilde x))]` from the logits."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


@checked
def minimax_generator_loss(fake_logits: Shape("N")) -> Tensor:
    """:math:`\\mathbb E[\\log(1 - D(G(z)))]`, which the generator minimises (saturates as D -> 0)."""
    return -F.softplus(fake_logits).mean()


@checked
def nonsaturating_generator_loss(fake_logits: Shape("N")) -> Tensor:
    """:math:`-\\mathbb E[\\log D(G(z))]`, the non-saturating generator loss."""
    return F.softplus(-fake_logits).mean()


@checked
def quadratic_features(x: Vectors) -> Tensor:
    """:math:`\\phi(x) = (1, x_i, x_i x_j\\ (i \\le j))`: the logit of two Gaussians is linear in it."""
    i, j = torch.triu_indices(x.shape[1], x.shape[1])
    return torch.cat([torch.ones_like(x[:, :1]), x, x[:, i] * x[:, j]], dim=1)


@dataclass(frozen=True)
class LogisticFit:
    """Maximum-likelihood logistic regression: coefficients and their asymptotic covariance."""

    theta: Tensor
    cov: Tensor
    iterations: int

    def logit(self, phi: Tensor) -> Tensor:
        return phi @ self.theta

    def se(self, phi: Tensor) -> Tensor:
        """Standard error of each fitted logit :math:`\\phi^\\top\\hat\\theta` (delta method)."""
        return ((phi @ self.cov) * phi).sum(-1).clamp_min(0).sqrt()


@checked
def fit_logistic(phi_pos: Shape("n k"), phi_neg: Shape("m k"), *, iterations: Count = 100,
                 tol: float = 1e-12) -> LogisticFit:
    """Fit :math:`P(y{=}1|x) = \\sigma(\\phi^\\top\\theta)` to positives ``phi_pos`` and negatives
    ``phi_neg`` by Newton's method (float64); stop when the step is below ``tol``."""
    who = "fit_logistic"
    phi = torch.cat([phi_pos, phi_neg]).double()
    y = torch.cat([torch.ones(len(phi_pos)), torch.zeros(len(phi_neg))]).double()
    theta = torch.zeros(phi.shape[1], dtype=torch.float64)
    try:
        for it in range(1, iterations + 1):  # noqa: B007 (it is returned: the iterations used)
            p = torch.sigmoid(phi @ theta)
            hess = (phi * (p * (1 - p))[:, None]).T @ phi
            step = torch.linalg.solve(hess, phi.T @ (y - p))
            theta = theta + step
            if step.abs().max() < tol:
                break
        else:
            raise _no_fit(who, phi, f"Newton's method did not converge in {iterations} iterations")
        p = torch.sigmoid(phi @ theta)
        cov = torch.linalg.inv((phi * (p * (1 - p))[:, None]).T @ phi)
    except torch.linalg.LinAlgError as err:
        # the Hessian sum_i phi_i phi_i^T p_i (1 - p_i) is singular: the fitted probabilities reached
        # 0 or 1 (the weights diverge on separable classes), or the features are linearly dependent
        raise _no_fit(who, phi, "the Newton system became singular") from err
    return LogisticFit(theta, cov, it)


def _no_fit(who: str, phi: Tensor, what: str) -> ValueError:
    """The error of a logistic fit that failed (built only on that failure path)."""
    rank, k = int(torch.linalg.matrix_rank(phi)), phi.shape[1]
    if rank < k:
        return ValueError(f"{who}: {what}: the features are linearly dependent (the stacked phi_pos and phi_neg "
                          f"have rank {rank} < {k} columns), so the logistic coefficients are not identifiable; "
                          "drop or combine the redundant features")
    return ValueError(f"{who}: {what}: the classes are linearly separable in the features (a hyperplane splits "
                      "phi_pos from phi_neg, up to points on it; the weights diverge and the fitted probabilities "
                      "reach 0 and 1), "
                      "so the maximum-likelihood logistic fit does not exist; use samples whose classes "
                      "overlap (more or noisier samples), fewer features, or a regularised fit")
