r"""A small DDPM on vectors, with classifier-free guidance (lecture 002, recap of DDPM/NCSN).

**Schedule.** :math:`\beta_1..\beta_T`, :math:`\alpha_t = 1 - \beta_t`,
:math:`\bar\alpha_t = \prod_{s \le t} \alpha_s`. The forward chain
:math:`x_t = \sqrt{\alpha_t}\,x_{t-1} + \sqrt{\beta_t}\,\epsilon_t` has the closed-form marginal
:math:`q(x_t|x_0) = \mathcal N(\sqrt{\bar\alpha_t}\,x_0, (1 - \bar\alpha_t) I)`: by induction the mean
coefficient is :math:`\prod\sqrt{\alpha_s}` and the variance obeys
:math:`v_t = \alpha_t v_{t-1} + \beta_t`, :math:`v_0 = 0`, solved by :math:`1 - \bar\alpha_t`. A usable
schedule ends at :math:`\bar\alpha_T \approx 0`, so that :math:`x_T` is (nearly) :math:`\mathcal N(0, I)`.

**Noise and score.** Since :math:`\nabla_{x_t}\log q(x_t|x_0) = -\epsilon/\sqrt{1 - \bar\alpha_t}`, a
noise predictor is a score model, :math:`s_\theta = -\epsilon_\theta/\sqrt{1 - \bar\alpha_t}`, and
:math:`\|s_\theta - \nabla\log q(x_t|x_0)\|^2 = \|\epsilon_\theta - \epsilon\|^2/(1 - \bar\alpha_t)`: the
DDPM and NCSN objectives differ only by their weighting over :math:`t`.

**Training** (:meth:`DDPM.loss`): :math:`t \sim U\{1..T\}`, :math:`\epsilon \sim \mathcal N(0, I)`,
:math:`\mathcal L = \|\epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\epsilon, t, y)\|^2`,
the label replaced by the empty label :math:`\varnothing` with probability ``label_dropout``.

**Ancestral sampling** (:meth:`DDPM.sample`): :math:`x_T \sim \mathcal N(0, I)`, then
:math:`x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\big(x_t - \frac{\beta_t}{\sqrt{1 - \bar\alpha_t}}\hat\epsilon\big)
+ \sigma_t z` with :math:`\sigma_t^2 = \beta_t` and no noise at the last step.

**Classifier-free guidance**, the lecture's convention (lecture 002 "Classifier-free-corrected
noise prediction"):
:math:`\hat\epsilon = \gamma\,\epsilon_\theta(x_t, y) + (1 - \gamma)\,\epsilon_\theta(x_t, \varnothing)`.
Written with the guidance weight :math:`w = \gamma - 1` of Ho & Salimans (2021) this is
:math:`(1 + w)\,\epsilon_c - w\,\epsilon_u`. So :math:`\gamma = 0` samples the unconditional model,
:math:`\gamma = 1` (:math:`w = 0`) the conditional one, and :math:`\gamma > 1` follows the score of
:math:`p(x_t|y)\,p(y|x_t)^{\gamma - 1}`, which sharpens :math:`p(y|x_t)`.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from flowlab.validate import (
    AtLeast,
    Count,
    Count0,
    IsA,
    MaybePositive,
    Module,
    Number,
    Rng,
    Shape,
    check_shape,
    checked,
)


class NoiseSchedule(nn.Module):
    """The :math:`\\beta_t, \\alpha_t, \\bar\\alpha_t` of a DDPM, index ``t`` in 1..T (entry ``t - 1``),
    from a 1D tensor of ``betas`` in (0, 1) (:func:`linear_schedule` builds and validates them). Its
    methods check the steps ``t`` (and ``q_sample`` its noise's shape), which would otherwise index the
    wrong entries silently; tensors are the caller's (``DDPM`` checks its data)."""

    def __init__(self, betas: Tensor):
        super().__init__()
        betas = betas.double()
        self.register_buffer("betas", betas)
        self.register_buffer("alphas", 1 - betas)
        self.register_buffer("alpha_bars", torch.cumprod(1 - betas, 0))

    @property
    def T(self) -> int:
        return len(self.betas)

    def _t(self, t, who: str) -> Tensor:
        t = torch.as_tensor(t)
        if t.is_floating_point() or t.dtype == torch.bool:
            raise TypeError(f"{who}: t must hold integer steps 1..{self.T}, got dtype {t.dtype}")
        if bool((t < 1).any() or (t > self.T).any()):
            raise ValueError(f"{who}: t must lie in 1..{self.T}, got [{int(t.min())}, {int(t.max())}]")
        return t.long().to(self.betas.device)

    @checked
    def q_sample(self, x0: Shape("..."), t, eps: Shape("...")) -> Tensor:
        """:math:`\\sqrt{\\bar\\alpha_t}x_0 + \\sqrt{1 - \\bar\\alpha_t}\\epsilon` (``t`` per row or one int)."""
        ab = self.alpha_bars[self._t(t, "NoiseSchedule.q_sample") - 1].to(x0.dtype)
        ab = ab.reshape(-1, *[1] * (x0.dim() - 1)) if ab.dim() else ab
        return ab.sqrt() * x0 + (1 - ab).sqrt() * eps

    def sequential(self, x0: Tensor, t: int, generator: torch.Generator | None = None) -> Tensor:
        """Noise step by step, :math:`x_s = \\sqrt{\\alpha_s}x_{s-1} + \\sqrt{\\beta_s}\\epsilon_s`, up to ``t``."""
        x = x0
        for s in range(int(self._t(t, "NoiseSchedule.sequential"))):
            eps = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
            x = self.alphas[s].to(x.dtype).sqrt() * x + self.betas[s].to(x.dtype).sqrt() * eps
        return x

    def sequential_moments(self) -> tuple[Tensor, Tensor]:
        """Mean coefficient and variance of :math:`x_t | x_0` by the recursion of the chain itself:
        :math:`m_t = \\sqrt{\\alpha_t}m_{t-1}`, :math:`v_t = \\alpha_t v_{t-1} + \\beta_t` (float64)."""
        m, v, ms, vs = torch.ones((), dtype=torch.float64), torch.zeros((), dtype=torch.float64), [], []
        for a, b in zip(self.alphas.cpu(), self.betas.cpu()):
            m, v = a.sqrt() * m, a * v + b
            ms.append(m)
            vs.append(v)
        return torch.stack(ms), torch.stack(vs)

    def score_from_eps(self, eps: Tensor, t) -> Tensor:
        """:math:`s = -\\epsilon / \\sqrt{1 - \\bar\\alpha_t}`."""
        ab = self.alpha_bars[self._t(t, "NoiseSchedule.score_from_eps") - 1].to(eps.dtype)
        ab = ab.reshape(-1, *[1] * (eps.dim() - 1)) if ab.dim() else ab
        return -eps / (1 - ab).sqrt()


@checked
def linear_schedule(T: AtLeast(2), beta_start: MaybePositive = None, beta_end: MaybePositive = None) -> NoiseSchedule:
    """Linearly spaced :math:`\\beta_t`; by default DDPM's 1e-4 .. 0.02 at T = 1000, rescaled to T
    (``0.1/T`` .. ``20/T``) so that :math:`\\bar\\alpha_T \\approx e^{-10}` for every T."""
    lo = 0.1 / T if beta_start is None else beta_start
    hi = min(20 / T, 0.5) if beta_end is None else beta_end
    if not lo <= hi < 1:
        raise ValueError(f"linear_schedule needs beta_start <= beta_end < 1, got {lo}, {hi}")
    return NoiseSchedule(torch.linspace(lo, hi, T, dtype=torch.float64))


class DDPM(nn.Module):
    """A noise predictor ``net(x_t, t/T, y)`` (e.g. :class:`flowlab.nn.TimeLabelMLP`) on a schedule.

    ``num_classes`` > 0 makes it conditional: labels 0..num_classes-1, and ``num_classes`` is the
    empty label, used in training with probability ``label_dropout`` and by ``guided_eps``."""

    @checked
    def __init__(self, net: Module, schedule: IsA(NoiseSchedule, "a linear_schedule(T)"), features: Count,
                 num_classes: Count0 = 0, label_dropout: Number = 0.1):
        super().__init__()
        if not 0 <= label_dropout <= 1:
            raise ValueError(f"{type(self).__name__}: label_dropout must lie in [0, 1], got {label_dropout}")
        self.net, self.schedule, self.features, self.num_classes = net, schedule, features, num_classes
        self.label_dropout = label_dropout

    def _labels(self, y, n: int, device) -> Tensor | None:
        if self.num_classes == 0:
            if y is not None:
                raise ValueError("DDPM: this model is unconditional (num_classes=0); pass y=None")
            return None
        if y is None:
            return torch.full((n,), self.num_classes, dtype=torch.long, device=device)
        y = torch.as_tensor(y, device=device)
        if y.is_floating_point() or y.dtype == torch.bool:
            raise TypeError(f"DDPM: labels must be integers 0..{self.num_classes - 1}, got dtype {y.dtype}")
        y = y.long().expand(n) if y.dim() == 0 else y.long()
        if y.shape != (n,) or bool((y < 0).any() or (y > self.num_classes).any()):
            raise ValueError(f"DDPM: labels must be [{n}] in 0..{self.num_classes} (= empty), got {list(y.shape)}")
        return y

    def eps(self, x_t: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        """:math:`\\epsilon_\\theta(x_t, t, y)`; ``y=None`` is the empty label."""
        t = self.schedule._t(t, "DDPM.eps").to(x_t.device)
        return self.net(x_t, t.to(x_t.dtype) / self.schedule.T, self._labels(y, len(x_t), x_t.device))

    @checked
    def guided_eps(self, x_t: Tensor, t: Tensor, y, gamma: Number) -> Tensor:
        """:math:`\\gamma\\,\\epsilon_\\theta(x_t, y) + (1 - \\gamma)\\,\\epsilon_\\theta(x_t, \\varnothing)`
        (= :math:`(1 + w)\\epsilon_c - w\\epsilon_u` with :math:`w = \\gamma - 1`)."""
        if gamma == 1.0 or self.num_classes == 0:
            return self.eps(x_t, t, y)
        eps_u = self.eps(x_t, t, None)
        if gamma == 0.0:
            return eps_u
        return gamma * self.eps(x_t, t, y) + (1 - gamma) * eps_u

    @checked
    def loss(self, x0: Tensor, y: Tensor | None = None, generator: Rng = None) -> Tensor:
        """The simple DDPM loss :math:`\\|\\epsilon - \\epsilon_\\theta(x_t, t, y)\\|^2` (mean over the batch)."""
        check_shape(x0, (self.features,), "DDPM.loss")
        n, dev = len(x0), x0.device
        y = self._labels(y, n, dev)
        if y is not None and self.label_dropout > 0:
            drop = torch.rand(n, generator=generator).to(dev) < self.label_dropout
            y = torch.where(drop, torch.full_like(y, self.num_classes), y)
        t = torch.randint(1, self.schedule.T + 1, (n,), generator=generator).to(dev)
        eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(dev)
        x_t = self.schedule.q_sample(x0, t, eps)
        return ((eps - self.net(x_t, t.to(x0.dtype) / self.schedule.T, y)) ** 2).sum(-1).mean()

    @torch.no_grad()
    @checked
    def sample(self, n: Count, y=None, gamma: Number = 1.0, generator: Rng = None) -> Tensor:
        """Ancestral sampling, ``T`` network passes (two per step when guided with gamma not in {0, 1})."""
        p = next(self.parameters())
        s = self.schedule
        y = self._labels(y, n, p.device)
        x = torch.randn(n, self.features, generator=generator, dtype=p.dtype).to(p.device)
        for t in range(s.T, 0, -1):
            tt = torch.full((n,), t, dtype=torch.long, device=p.device)
            eps = self.guided_eps(x, tt, y, gamma)
            a, b, ab = (v[t - 1].to(p.dtype) for v in (s.alphas, s.betas, s.alpha_bars))
            x = (x - b / (1 - ab).sqrt() * eps) / a.sqrt()
            if t > 1:
                x = x + b.sqrt() * torch.randn(x.shape, generator=generator, dtype=p.dtype).to(p.device)
        return x
