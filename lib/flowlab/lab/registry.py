"""The claims registry: every lecture claim the companion reproduces, by notebook.

Each entry is the claim's id, its notebook, the lecture statement, its source (lecture file and slide
heading, see ``shared/lectures``), and its kind:

- ``exact``: a mathematical identity, asserted with a tight tolerance;
- ``stat``: a statistical statement, asserted within a band derived from the sample size;
- ``order``: an empirical ordering from training, over several seeds, decided by the one rule of
  :mod:`flowlab.measure.orders`: *reproduced*, *contradicted* or *inconclusive at this scale*. Its
  outcome is pinned per mode in ``pinned`` only where calibration (``python -m flowlab.lab.calibrate``,
  at least 10 seed sets on two float paths) found one outcome in at least 9 of 10 runs. Where none
  reached that, the claim is pinned :func:`seed_dependent` with the counts: any outcome passes, and
  the tables print the counts ("reproduced in 6 of 13 seed sets") rather than one run's coin flip;
- ``display``: a published number shown beside ours, never asserted.

Notebooks take statement, source and kind from here, so each is written once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flowlab.measure.orders import CONTRADICTED, INCONCLUSIVE, REPRODUCED
from flowlab.measure.orders import OUTCOMES as OUTCOMES  # re-exported: the registry names the outcomes it pins

KINDS = ("exact", "stat", "order", "display")
LEGACY_NOT_REPRODUCED = "not reproduced at this scale"  # the two-outcome rule's verdict, in older results
AGREEMENT = 0.9  # an outcome is pinned when at least this fraction of the calibration runs gave it
SEED_DEPENDENT_MEANING = ("seed-dependent: calibration over at least 10 seed sets (and two float paths) found "
                          "no outcome in 9 of 10 of them, so one run's outcome is a draw; the counts are shown")
INCONCLUSIVE_MEANING = ("inconclusive at this scale: the confidence interval of a comparison still straddles "
                        "the claim's edge at this number of seeds and steps; neither reproduced nor contradicted")


@dataclass(frozen=True)
class SeedDependent:
    """A pin for an order claim whose outcome varied over the calibration's seed sets."""
    counts: tuple[tuple[str, int], ...]  # (outcome, seed sets that gave it), most frequent first

    @property
    def runs(self) -> int:
        return sum(n for _, n in self.counts)

    def __str__(self) -> str:
        parts = [f"{outcome} in {n}" for outcome, n in self.counts if n]
        return f"seed-dependent ({', '.join(parts)} of {self.runs} seed sets)"


def seed_dependent(reproduced: int = 0, contradicted: int = 0, inconclusive: int = 0) -> SeedDependent:
    """The pin of a claim whose calibration gave these counts of each outcome."""
    counts = {REPRODUCED: reproduced, CONTRADICTED: contradicted, INCONCLUSIVE: inconclusive}
    assert sum(counts.values()) >= 10 and max(counts.values()) < AGREEMENT * sum(counts.values()), counts
    return SeedDependent(tuple(sorted(counts.items(), key=lambda kv: -kv[1])))


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    notebook: str
    kind: str
    statement: str
    source: str
    pinned: dict = field(default_factory=dict)  # mode -> outcome or SeedDependent, for order claims
    false_alarm: float | str | None = None  # stat claims: the nominal rate a correct method fails at, or why none


# the false-alarm text of a claim checked by a one-sided test of a trend (a rate bounds only a false pass)
ONE_SIDED_POWER = ("a one-sided 1% t-test bounds a false pass; a true claim fails only for want of power: "
                   "no nominal rate")


def _c(id, notebook, kind, statement, source, false_alarm=None, **pinned):
    return ClaimSpec(id, notebook, kind, statement, source, dict(pinned), false_alarm)


CLAIMS: tuple[ClaimSpec, ...] = (
    # 01 change of variables
    _c("C01", "01_change_of_variables", "exact",
       "X ~ U(0,1), Y = 2X + 1 has density 1/2 on [1, 3]; the density integrates to 1",
       '001 "1D Example"; 003 "Change of Variable Density Needs to Be Normalized"'),
    _c("C02", "01_change_of_variables", "exact",
       "log p_X(x) = log p_Z(f(x)) + log|det df/dx| in m dimensions",
       '000 "Change of Variable Theorem"'),
    _c("C03", "01_change_of_variables", "exact",
       "The log-det of a composition f_S o ... o f_1 is the sum of the per-layer log-dets",
       '003 "Chaining Invertible Mappings"'),
    # 02 coupling flows
    _c("C04", "02_coupling_flows", "exact",
       "NICE additive coupling is volume preserving: log det = 0",
       '003 "Coupling Law - NICE"'),
    _c("C05", "02_coupling_flows", "exact",
       "RealNVP affine coupling has a triangular Jacobian with log det = sum s(x_1:d), and an exact inverse",
       '001 "Affine Coupling Flows"; 003 "Coupling Law - RealNVP"'),
    _c("C06", "02_coupling_flows", "exact",
       "Checkerboard and channel masks implement the partition b*x + (1-b)*(...)",
       '003 "Real NVP via Masked Convolution"'),
    _c("C07", "02_coupling_flows", "order",
       "RealNVP fits 2D toy densities: held-out NLL well below the best single Gaussian",
       '001 "Affine Coupling Flows"', quick="reproduced"),
    # 03 Glow vs RealNVP
    _c("C08", "03_glow_vs_realnvp", "exact",
       "1x1 invertible convolution: log|det| = h*w*log|det W|; the LU form agrees; rotation init gives 0",
       '003 "Glow: Generative Flow with 1x1 Convolutions"'),
    _c("C09", "03_glow_vs_realnvp", "exact",
       "ActNorm's data-dependent init gives per-channel zero mean and unit variance",
       '003 "Glow: Generative Flow with 1x1 Convolutions"'),
    _c("C10", "03_glow_vs_realnvp", "exact",
       "Bits/dim: a uniform model on 17-level digits gives log2(17) = 4.087; NICE's 1980.50 nats on MNIST is 4.356",
       '003 "Glow: Generative Flow with 1x1 Convolutions" (bits/dim table)'),
    _c("C11", "03_glow_vs_realnvp", "order",
       "1x1 convolution beats reverse and shuffle permutations, and affine beats additive coupling",
       '003 "Ablation: Permutation vs 1x1 Convolution"', quick="inconclusive at this scale"),
    # 04 autoregressive flows
    _c("C12", "04_autoregressive_flows", "exact",
       "MADE masks make the Jacobian of MAF/IAF strictly triangular",
       '003 "Inverse (Affine) Autoregressive Flows"'),
    _c("C13", "04_autoregressive_flows", "stat",
       "MAF evaluates density in one pass and samples in D passes; IAF the reverse",
       '003 "Inverse (Affine) Autoregressive Flows"',
       false_alarm="timing slopes with a model-error tolerance and exact pass counts: no nominal rate"),
    _c("C14", "04_autoregressive_flows", "stat",
       "Coupling inverts in a constant number of passes, autoregressive flows in D",
       '003 "Trade-off between Expressivity and Inversion Cost"',
       false_alarm="timing slopes with a model-error tolerance and exact pass counts: no nominal rate"),
    # 05 universal 1D flows
    _c("C15", "05_universal_1d_flows", "stat",
       "Probability integral transform: F(X) ~ U(0,1) and F^-1(U) ~ F",
       '003 "Inverse Transform Sampling"',
       false_alarm=0.01),
    _c("C16", "05_universal_1d_flows", "order",
       "A monotone 1D flow fits a bimodal density to near its entropy; an affine flow cannot",
       '003 "Universal Flows in 1D"', quick="reproduced"),
    # 06 planar and Sylvester flows
    _c("C17", "06_planar_sylvester_flows", "exact",
       "Planar: log|det| = log|1 + h'(w^T z + b) u^T w|; u-hat keeps w^T u >= -1",
       '003 "Determinant Identity - Planar Flows"'),
    _c("C18", "06_planar_sylvester_flows", "exact",
       "Sylvester's identity det(I_m + AB) = det(I_d + BA) and its cost saving; radial log-det",
       '003 "Determinant Identity - Sylvester Flows"'),
    _c("C19", "06_planar_sylvester_flows", "order",
       "Planar flows fit U1-U4 better as K grows (K = 2, 8, 32); a CNF of similar size matches K = 32",
       '003 "Determinant Identity - Planar Flows"', quick="inconclusive at this scale"),
    # 07 VAE with flows
    _c("C20", "07_vae_with_flows", "stat",
       "log p(x) = ELBO + KL(q(z|x) || p(z|x))",
       '001 "But the receiver doesn\'t have p(z|x)?"',
       false_alarm=0.01),
    _c("C21", "07_vae_with_flows", "stat",
       "Reparametrization gradients have far lower variance than REINFORCE",
       '001 "What about Reparametrization?"',
       false_alarm=0.02),
    _c("C22", "07_vae_with_flows", "order",
       "Planar flows in the posterior tighten the bound as k grows; the gap splits into approximation "
       "and amortization parts",
       '003 "VAE on binary MNIST"; 003 "A Digression on Variational Inference"',
       full=LEGACY_NOT_REPRODUCED, quick="inconclusive at this scale"),
    _c("C50", "07_vae_with_flows", "order",
       "On Frey Faces, planar, IAF and Sylvester (O-, H-, T-SNF) posteriors reach a lower -ELBO than the "
       "diagonal-Gaussian VAE, and the importance-sampled NLL lies below each -ELBO (bits/dim)",
       '003 "Determinant Identity - Sylvester Flows" (table)',
       full=LEGACY_NOT_REPRODUCED, quick="inconclusive at this scale"),
    # 08 residual flows
    _c("C23", "08_residual_flows", "exact",
       "A residual block with Lip(g) < 1 (spectral normalisation) is invertible by fixed-point iteration, "
       "converging at rate <= Lip",
       '003 "Stochastic Estimation for General Residual Form"'),
    _c("C24", "08_residual_flows", "stat",
       "The truncated log-det series is biased by its tail; the Russian roulette estimator is unbiased "
       "(its variance, finite only while 2 rho^2 <= 1, explodes as Lip -> 1)",
       '003 "Stochastic Estimation for General Residual Form"',
       false_alarm=0.01),
    _c("C25", "08_residual_flows", "exact",
       "An Euler step z + h f(z) is invertible when h Lip(f) < 1",
       '003 "Residual Flows as Finite Neural ODE"'),
    # 09 trace estimators
    _c("C26", "09_trace_estimators", "stat",
       "slogdet costs O(m^3), the exact Jacobian trace O(m^2), Hutchinson O(m)",
       '002 "Continuous-in-time NF"; 004 "Hutchinson\'s trace estimator"',
       false_alarm="exact VJP and FLOP counts and a one-sided timing slope: no nominal rate"),
    _c("C27", "09_trace_estimators", "stat",
       "Hutchinson is unbiased with Var_G = 2||S||_F^2 and Var_R = 2(||S||_F^2 - sum S_ii^2)",
       '004 "Hutchinson\'s trace estimator"',
       false_alarm=0.01),
    _c("C28", "09_trace_estimators", "stat",
       "Hutch++'s error falls as ~1/k in matvecs, Hutchinson's as ~1/sqrt(k)",
       "beyond the lectures (Meyer et al. 2021)",
       false_alarm=0.0054),
    _c("C29", "09_trace_estimators", "stat",
       "Variance of a trained FFJORD model's log-likelihood: Gaussian vs Rademacher vs exact trace",
       '002 "Continuous-in-time NF"',
       false_alarm=0.01),
    # 10 ResNet as Euler
    _c("C30", "10_resnet_as_euler", "exact",
       "A residual block z + f(z) is one Euler step with dt = 1",
       '004 (first slides); 000 "From point view of ResNet"'),
    _c("C31", "10_resnet_as_euler", "stat",
       "An L-block ResNet with step 1/L converges to the ODE: error O(1/L) Euler, O(1/L^4) RK4",
       '004 (first slides)',
       false_alarm="convergence slopes against a 1e-12 reference, with a model-error tolerance: no nominal rate"),
    _c("C32", "10_resnet_as_euler", "exact",
       "Euler diverges on dz/dt = -lambda z when lambda dt > 2",
       '002 "Euler update step ... unstable in practice"'),
    # 11 adjoint method
    _c("C33", "11_adjoint_method", "exact",
       "Algorithm 1 gives the same gradients as backprop, odeint_adjoint and the closed form",
       '000 (last slides); 002 "Adjoint method"; 003 "Backpropagation of Neural ODE"'),
    _c("C34", "11_adjoint_method", "stat",
       "Memory for backward is constant in solver steps for the adjoint, linear for backprop",
       '003 "Constant memory!"',
       false_alarm="counted saved-tensor bytes, deterministic: no nominal rate"),
    _c("C35", "11_adjoint_method", "stat",
       "Forward/backward NFE and wall time of the adjoint vs backprop",
       '002 "Adjoint method"',
       false_alarm="counted function evaluations, deterministic given the seed: no nominal rate"),
    _c("C36", "11_adjoint_method", "stat",
       "Reconstructing z(t0) by solving backward has an error that grows with the solver tolerance",
       '001 "Prone to Numerical Errors"',
       false_alarm=ONE_SIDED_POWER),
    # 12 FFJORD on toys
    _c("C37", "12_ffjord_toy", "exact",
       "Instantaneous change of variables matches the closed form for linear dynamics",
       '000; 002 "Theorem (continuity equation)"'),
    _c("C38", "12_ffjord_toy", "order",
       "FFJORD with exact trace and with Hutchinson reach similar NLL on 2D toys",
       '002 "Continuous-in-time NF"', quick="inconclusive at this scale"),
    _c("C39", "12_ffjord_toy", "exact",
       "Integrating forward then backward reconstructs the input, the error vanishing with the solver "
       "tolerance: within 10^3 x the per-step tolerance (rtol = atol <= 1e-7)",
       '002 "Theorem (Picard)"'),
    _c("C40", "12_ffjord_toy", "stat",
       "The number of function evaluations grows during training",
       '001 "Con\'s to using CNF\'s"',
       false_alarm=ONE_SIDED_POWER),
    # 13 FFJORD on images
    _c("C41", "13_ffjord_images", "order",
       "FFJORD's test bits/dim beside Glow and RealNVP at a matched budget",
       '002 "Continuous-in-time NF"', quick="contradicted"),
    # 14 bits-back coding
    _c("C42", "14_bits_back_coding", "exact",
       "H(0.5, 0.5) = 1 bit, H(0.8, 0.2) = 0.7219 bits; ANS reaches within 1% of entropy",
       '001 "Entropy Coding Example"'),
    _c("C43", "14_bits_back_coding", "stat",
       "Bits-back ANS with a VAE is lossless and reaches the -ELBO rate",
       '001 "Application: Bits-Back Coding"',
       false_alarm=0.0054),
    # 15 GAN density ratio
    _c("C44", "15_gan_density_ratio", "stat",
       "The optimal discriminator is D* = p*/(p* + q); its logit estimates log p*/q",
       "001 (GAN slides)",
       false_alarm=0.02),
    _c("C45", "15_gan_density_ratio", "stat",
       "The non-saturating generator loss gives larger gradients than minimax when D rejects fakes",
       '001 "Non-Saturating Generator Loss"',
       false_alarm="a closed form against autograd and a one-sided power check: no nominal rate"),
    # 16 diffusion recap
    _c("C46", "16_diffusion_recap", "exact",
       "DDPM forward marginal q(x_t|x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)",
       "002 (recap)"),
    _c("C47", "16_diffusion_recap", "exact",
       "eps-prediction and score agree up to scale: s = -eps / sqrt(1 - abar_t)",
       "002 (recap)"),
    _c("C48", "16_diffusion_recap", "order",
       "Classifier-free guidance: gamma = 1 samples the conditional, gamma > 1 sharpens it",
       '002 "Classifier-free-corrected noise prediction"', quick=seed_dependent(reproduced=11, inconclusive=2)),
    # 17 model zoo
    _c("C49", "17_model_zoo", "stat",
       "The model property table (one-pass sampling, exact likelihood, free-form Jacobian), measured",
       "004 (last table)",
       false_alarm="exact table columns and a one-sided timing slope: no nominal rate"),
)

# Notebooks that read another notebook's results (through ``ClaimBook.results_of``): the driver
# runs the dependency first and re-runs the reader when the dependency's results change.
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "13_ffjord_images": ("03_glow_vs_realnvp",),
}

BY_ID = {c.id: c for c in CLAIMS}
assert len(BY_ID) == len(CLAIMS)


def verdict(kind: str, checks: list[dict]) -> str:
    """The one rule: an exact or stat claim is ``reproduced`` when every check passed, else ``failed``;
    an order claim is ``reproduced`` when every check's outcome is, ``contradicted`` when any check's
    is, and ``inconclusive at this scale`` otherwise."""
    if not checks:
        return "not recorded"
    if kind == "order" and not all("outcome" in c for c in checks):
        # recorded before the three-outcome rule (committed full-mode references): its old verdicts
        return "reproduced" if all(c["passed"] for c in checks) else LEGACY_NOT_REPRODUCED
    if kind == "order":
        outcomes = [c["outcome"] for c in checks]
        if all(o == REPRODUCED for o in outcomes):
            return REPRODUCED
        return CONTRADICTED if CONTRADICTED in outcomes else INCONCLUSIVE
    return "reproduced" if all(c["passed"] for c in checks) else "failed"


def pin(claim_id: str, mode: str):
    """The outcome pinned for an order claim in ``mode``: an outcome, a :class:`SeedDependent`, or None."""
    spec = BY_ID.get(claim_id)
    return None if spec is None else spec.pinned.get(mode)


def shown_verdict(claim_id: str, verdict: str, mode: str) -> str:
    """A verdict as the tables print it: for a claim pinned seed-dependent in ``mode``, this run's
    outcome followed by the calibration's counts."""
    pinned = pin(claim_id, mode)
    if isinstance(pinned, SeedDependent):
        return f"{verdict}; {pinned}"
    return verdict


def rate_text(claim_id: str, failed: int | None = None, runs: int | None = None) -> str:
    """A stat claim's error rate as a reader needs it: ``nominal false-alarm rate 1%; measured: failed in 2
    of 76 seeded runs`` (the calibration's runs: seeds on either float path)."""
    rate = BY_ID[claim_id].false_alarm
    nominal = f"nominal false-alarm rate {100 * rate:.2g}%" if isinstance(rate, float) else str(rate)
    measured = (f"; measured: failed in {failed} of {runs} seeded runs" if runs
                else "; measured rate: not yet calibrated")
    return nominal + measured


def failure_note(claim_id: str, failed: int | None = None, runs: int | None = None) -> str:
    """What a failed stat check means at a reader's seed."""
    rate = BY_ID[claim_id].false_alarm
    measured = f" (measured: failed in {failed} of {runs} seeded runs)" if runs else ""
    if isinstance(rate, float):
        return (f"{claim_id} fails at this seed; a correct method fails this claim {100 * rate:.2g}% of the time"
                f"{measured}: try another seed before suspecting the code")
    return f"{claim_id} fails at this seed{measured}; {rate}, so look at the numbers above"


def claims_for(notebook: str) -> list[ClaimSpec]:
    """The registered claims of one notebook (by its name without extension)."""
    return [c for c in CLAIMS if c.notebook == notebook]


def get(claim_id: str) -> ClaimSpec:
    try:
        return BY_ID[claim_id]
    except KeyError:
        raise ValueError(f"unknown claim id {claim_id!r}; registered ids are C01..C{len(CLAIMS):02d}") from None
