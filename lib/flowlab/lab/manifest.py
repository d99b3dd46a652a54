"""The manifest: one entry per notebook, the one place a notebook is declared.

An entry holds what the rest of the companion needs to know of a notebook, each written once:

- its **book section** (the site's table of contents and the notebooks page group by it);
- its **parameters**, each with its quick- and full-mode default: the notebook's ``parameters`` cell
  declares the names (``steps: Optional[int] = None``, what papermill may override) and
  :func:`flowlab.lab.setup` fills a ``None`` with the default of the mode;
- the notebooks whose results it reads (``depends_on``: the driver runs them first), and whether its
  claims rest on timings (``timed``: the driver runs it with no other notebook beside it);
- its **claims**: id, kind, statement and lecture source (``shared/lectures``: lecture file and slide
  heading). The notebook quotes each statement word for word (``> **C04** <statement>``; a test checks
  it), and the tables, CLAIMS.md, the README and the book print it from here.

The kinds of claim:

- ``exact``: a mathematical identity, asserted with a tight tolerance;
- ``stat``: a statistical statement, asserted within a band derived from the sample size, with the
  nominal rate (``false_alarm``) at which a correct method fails it, or why there is none;
- ``order``: an empirical ordering from training, over several seeds, decided by the one rule of
  :mod:`flowlab.measure.orders`: *reproduced*, *contradicted* or *inconclusive at this scale*. Its
  outcome is pinned per mode only where calibration (``python -m flowlab.lab.calibrate``, at least 10
  seed sets on two float paths) found one outcome in at least 9 of 10 runs; where none reached that,
  the claim is pinned :func:`seed_dependent` with the counts;
- ``display``: a published number shown beside ours, never asserted.

Adding a notebook is adding its entry here and writing the notebook; nothing else is edited by hand.
"""
from __future__ import annotations

from flowlab.lab.specs import (
    LEGACY_NOT_REPRODUCED,
    ClaimSpec,
    Notebook,
    NotebookSpec,
    Param,
    exact,
    order,
    seed_dependent,
    stat,
)
from flowlab.measure.orders import CONTRADICTED, INCONCLUSIVE, REPRODUCED
from flowlab.train.experiments import EXPERIMENTS

_C11 = EXPERIMENTS["C11"]

# the false-alarm text of a claim checked by a one-sided test of a trend (a rate bounds only a false pass)
ONE_SIDED_POWER = ("a one-sided 1% t-test bounds a false pass; a true claim fails only for want of power: "
                   "no nominal rate")
TIMING_SLOPES = "timing slopes with a model-error tolerance and exact pass counts: no nominal rate"

DISCRETE = "Change of variables and discrete flows"
VARIATIONAL = "Variational inference and residual flows"
CONTINUOUS = "Continuous-time flows"
BEYOND = "Beyond flows: coding, GANs, diffusion, the zoo"

NOTEBOOKS: tuple[NotebookSpec, ...] = (
    Notebook("01_change_of_variables", DISCRETE,
        params=dict(
            samples=Param(200_000, 2_000_000, 'Monte Carlo samples for the histogram checks'),
        ),
        claims=(
            exact('C01',
                  'X ~ U(0,1), Y = 2X + 1 has density 1/2 on [1, 3]; the density integrates to 1',
                  '001 "1D Example"; 003 "Change of Variable Density Needs to Be Normalized"'),
            exact('C02',
                  'log p_X(x) = log p_Z(f(x)) + log|det df/dx| in m dimensions',
                  '000 "Change of Variable Theorem"'),
            exact('C03',
                  'The log-det of a composition f_S o ... o f_1 is the sum of the per-layer log-dets',
                  '003 "Chaining Invertible Mappings"'),
        )),
    Notebook("02_coupling_flows", DISCRETE,
        params=dict(
            steps=Param(500, 5000, 'training steps per RealNVP'),
            seeds=Param(3, 5, 'training seeds per toy density'),
        ),
        claims=(
            exact('C04', 'NICE additive coupling is volume preserving: log det = 0', '003 "Coupling Law - NICE"'),
            exact('C05',
                  'RealNVP affine coupling has a triangular Jacobian with log det = sum s(x_1:d), and an '
                  'exact inverse',
                  '001 "Affine Coupling Flows"; 003 "Coupling Law - RealNVP"'),
            exact('C06',
                  'Checkerboard and channel masks implement the partition b*x + (1-b)*(...)',
                  '003 "Real NVP via Masked Convolution"'),
            order('C07',
                  'RealNVP fits 2D toy densities: held-out NLL well below the best single Gaussian',
                  '001 "Affine Coupling Flows"',
                  quick=REPRODUCED),
        )),
    Notebook("03_glow_vs_realnvp", DISCRETE,
        params=dict(  # the defaults of python -m flowlab.train C11, which trains this notebook's sweep
            dataset=Param(_C11.quick.dataset, _C11.full.dataset,
                          "digits, mnist5k, mnist or cifar10 (the last two read your own files)",
                          choices=("digits", "mnist5k", "mnist", "cifar10")),
            steps=Param(_C11.quick.steps, _C11.full.steps, 'training steps per run'),
            seeds=Param(_C11.quick.seeds, _C11.full.seeds, 'seeds per variant'),
        ),
        claims=(
            exact('C08',
                  '1x1 invertible convolution: log|det| = h*w*log|det W|; the LU form agrees; rotation init '
                  'gives 0',
                  '003 "Glow: Generative Flow with 1x1 Convolutions"'),
            exact('C09',
                  "ActNorm's data-dependent init gives per-channel zero mean and unit variance",
                  '003 "Glow: Generative Flow with 1x1 Convolutions"'),
            exact('C10',
                  "Bits/dim: a uniform model on 17-level digits gives log2(17) = 4.087; NICE's 1980.50 nats "
                  'on MNIST is 4.356',
                  '003 "Glow: Generative Flow with 1x1 Convolutions" (bits/dim table)'),
            order('C11',
                  '1x1 convolution beats reverse and shuffle permutations, and affine beats additive coupling',
                  '003 "Ablation: Permutation vs 1x1 Convolution"',
                  full=INCONCLUSIVE,
                  quick=INCONCLUSIVE),
        )),
    Notebook("04_autoregressive_flows", DISCRETE, timed=True,
        params=dict(
            repeats=Param(7, 15, 'timing repeats per dimension'),
        ),
        claims=(
            exact('C12',
                  'MADE masks make the Jacobian of MAF/IAF strictly triangular',
                  '003 "Inverse (Affine) Autoregressive Flows"'),
            stat('C13',
                 'MAF evaluates density in one pass and samples in D passes; IAF the reverse',
                 '003 "Inverse (Affine) Autoregressive Flows"',
                 false_alarm=TIMING_SLOPES),
            stat('C14',
                 'Coupling inverts in a constant number of passes, autoregressive flows in D',
                 '003 "Trade-off between Expressivity and Inversion Cost"',
                 false_alarm=TIMING_SLOPES),
        )),
    Notebook("05_universal_1d_flows", DISCRETE,
        params=dict(
            seeds=Param(3, 5, 'training seeds for C16'),
            steps=Param(500, 2000, 'optimiser steps per fit'),
            samples=Param(20_000, 200_000, 'samples for the KS tests'),
        ),
        claims=(
            stat('C15',
                 'Probability integral transform: F(X) ~ U(0,1) and F^-1(U) ~ F',
                 '003 "Inverse Transform Sampling"',
                 false_alarm=0.01),
            order('C16',
                  'A monotone 1D flow fits a bimodal density to near its entropy; an affine flow cannot',
                  '003 "Universal Flows in 1D"',
                  quick=REPRODUCED),
        )),
    Notebook("06_planar_sylvester_flows", DISCRETE, timed=True,
        params=dict(
            steps=Param(300, 10_000, 'optimiser steps per fit'),
            seeds=Param(3, 5, 'seeds per (energy, K)'),
            batch=Param(128, 512, 'samples per reverse-KL step'),
        ),
        claims=(
            exact('C17',
                  "Planar: log|det| = log|1 + h'(w^T z + b) u^T w|; u-hat keeps w^T u >= -1",
                  '003 "Determinant Identity - Planar Flows"'),
            exact('C18',
                  "Sylvester's identity det(I_m + AB) = det(I_d + BA) and its cost saving; radial log-det",
                  '003 "Determinant Identity - Sylvester Flows"'),
            order('C19',
                  'Planar flows fit U1-U4 better as K grows (K = 2, 8, 32); a CNF of similar size matches K = 32',
                  '003 "Determinant Identity - Planar Flows"',
                  full=INCONCLUSIVE,
                  quick=INCONCLUSIVE),
        )),
    Notebook("07_vae_with_flows", VARIATIONAL,
        params=dict(
            steps=Param(300, 1500, 'training steps per digits / MNIST-5k VAE'),
            frey_steps=Param(200, 1500, 'training steps per Frey Faces VAE'),
            seeds=Param(3, 3, 'training seeds per model'),
            is_samples=Param(200, 500, 'importance samples per test image for the NLL'),
        ),
        claims=(
            stat('C20',
                 'log p(x) = ELBO + KL(q(z|x) || p(z|x))',
                 '001 "But the receiver doesn\'t have p(z|x)?"',
                 false_alarm=0.01),
            stat('C21',
                 'Reparametrization gradients have far lower variance than REINFORCE',
                 '001 "What about Reparametrization?"',
                 false_alarm=0.02),
            order('C22',
                  'Planar flows in the posterior tighten the bound as k grows; the gap splits into '
                  'approximation and amortization parts',
                  '003 "VAE on binary MNIST"; 003 "A Digression on Variational Inference"',
                  full=LEGACY_NOT_REPRODUCED,
                  quick=INCONCLUSIVE),
            order('C50',
                  'On Frey Faces, planar, IAF and Sylvester (O-, H-, T-SNF) posteriors reach a lower -ELBO '
                  'than the diagonal-Gaussian VAE, and the importance-sampled NLL lies below each -ELBO '
                  '(bits/dim)',
                  '003 "Determinant Identity - Sylvester Flows" (table)',
                  full=LEGACY_NOT_REPRODUCED,
                  quick=INCONCLUSIVE),
        )),
    Notebook("08_residual_flows", VARIATIONAL,
        params=dict(
            steps=Param(300, 2000, 'training steps of the 2D residual flow'),
            draws=Param(5000, 50_000, 'roulette draws per unbiasedness check'),
            tail_draws=Param(200_000, 2_000_000, 'draws per heavy-tail distribution'),
        ),
        claims=(
            exact('C23',
                  'A residual block with Lip(g) < 1 (spectral normalisation) is invertible by fixed-point '
                  'iteration, converging at rate <= Lip',
                  '003 "Stochastic Estimation for General Residual Form"'),
            stat('C24',
                 'The truncated log-det series is biased by its tail; the Russian roulette estimator is '
                 'unbiased (its variance, finite only while 2 rho^2 <= 1, explodes as Lip -> 1)',
                 '003 "Stochastic Estimation for General Residual Form"',
                 false_alarm=0.01),
            exact('C25',
                  'An Euler step z + h f(z) is invertible when h Lip(f) < 1',
                  '003 "Residual Flows as Finite Neural ODE"'),
        )),
    Notebook("09_trace_estimators", CONTINUOUS, timed=True,
        params=dict(
            steps=Param(300, 3000, 'FFJORD training steps'),
            probes=Param(20_000, 200_000, 'Hutchinson probes per Jacobian in C27'),
            trials=Param(200, 2000, 'repetitions per budget in C28'),
            repeats=Param(100, 2000, 'log-likelihood estimates per data point in C29'),
        ),
        claims=(
            stat('C26',
                 'slogdet costs O(m^3), the exact Jacobian trace O(m^2), Hutchinson O(m)',
                 '002 "Continuous-in-time NF"; 004 "Hutchinson\'s trace estimator"',
                 false_alarm='exact VJP and FLOP counts and a one-sided timing slope: no nominal rate'),
            stat('C27',
                 'Hutchinson is unbiased with Var_G = 2||S||_F^2 and Var_R = 2(||S||_F^2 - sum S_ii^2)',
                 '004 "Hutchinson\'s trace estimator"',
                 false_alarm=0.01),
            stat('C28',
                 "Hutch++'s error falls as ~1/k in matvecs, Hutchinson's as ~1/sqrt(k)",
                 'beyond the lectures (Meyer et al. 2021)',
                 false_alarm=0.0054),
            stat('C29',
                 "Variance of a trained FFJORD model's log-likelihood: Gaussian vs Rademacher vs exact trace",
                 '002 "Continuous-in-time NF"',
                 false_alarm=0.01),
        )),
    Notebook("10_resnet_as_euler", CONTINUOUS,
        params=dict(
            fields=Param(5, 20, 'random vector fields over which the convergence orders are measured'),
        ),
        claims=(
            exact('C30',
                  'A residual block z + f(z) is one Euler step with dt = 1',
                  '004 (first slides); 000 "From point view of ResNet"'),
            stat('C31',
                 'An L-block ResNet with step 1/L converges to the ODE: error O(1/L) Euler, O(1/L^4) RK4',
                 '004 (first slides)',
                 false_alarm=('convergence slopes against a 1e-12 reference, with a model-error tolerance: '
                             'no nominal rate')),
            exact('C32',
                  'Euler diverges on dz/dt = -lambda z when lambda dt > 2',
                  '002 "Euler update step ... unstable in practice"'),
        )),
    Notebook("11_adjoint_method", CONTINUOUS, timed=True,
        params=dict(
            inputs=Param(3, 10, 'random fields/inputs per check'),
            repeats=Param(5, 20, 'timing repeats per method'),
        ),
        claims=(
            exact('C33',
                  'Algorithm 1 gives the same gradients as backprop, odeint_adjoint and the closed form',
                  '000 (last slides); 002 "Adjoint method"; 003 "Backpropagation of Neural ODE"'),
            stat('C34',
                 'Memory for backward is constant in solver steps for the adjoint, linear for backprop',
                 '003 "Constant memory!"',
                 false_alarm='counted saved-tensor bytes, deterministic: no nominal rate'),
            stat('C35',
                 'Forward/backward NFE and wall time of the adjoint vs backprop',
                 '002 "Adjoint method"',
                 false_alarm='counted function evaluations, deterministic given the seed: no nominal rate'),
            stat('C36',
                 'Reconstructing z(t0) by solving backward has an error that grows with the solver tolerance',
                 '001 "Prone to Numerical Errors"',
                 false_alarm=ONE_SIDED_POWER),
        )),
    Notebook("12_ffjord_toy", CONTINUOUS,
        params=dict(
            steps=Param(120, 1000, 'training steps per run'),
            seeds=Param(3, 5, 'seeds per (toy, trace)'),
        ),
        claims=(
            exact('C37',
                  'Instantaneous change of variables matches the closed form for linear dynamics',
                  '000; 002 "Theorem (continuity equation)"'),
            order('C38',
                  'FFJORD with exact trace and with Hutchinson reach similar NLL on 2D toys',
                  '002 "Continuous-in-time NF"',
                  full=INCONCLUSIVE,
                  quick=INCONCLUSIVE),
            exact('C39',
                  'Integrating forward then backward reconstructs the input, the error vanishing with the '
                  'solver tolerance: within 10^3 x the per-step tolerance (rtol = atol <= 1e-7)',
                  '002 "Theorem (Picard)"'),
            stat('C40',
                 'The number of function evaluations grows during training',
                 '001 "Con\'s to using CNF\'s"',
                 false_alarm=ONE_SIDED_POWER),
        )),
    Notebook("13_ffjord_images", CONTINUOUS, depends_on=("03_glow_vs_realnvp",),
        params=dict(
            steps=Param(60, 3000, 'training steps per run'),
            seeds=Param(3, 3, 'seeds per model'),
        ),
        claims=(
            order('C41',
                  "FFJORD's test bits/dim beside Glow and RealNVP at a matched budget",
                  '002 "Continuous-in-time NF"',
                  quick=CONTRADICTED),
        )),
    Notebook("14_bits_back_coding", BEYOND,
        params=dict(
            steps=Param(1500, 10000, 'VAE training steps'),
            images=Param(None, None, 'test images coded (None: every held-out image)'),
            symbols=Param(1_000_000, 1_000_000, 'length of the i.i.d. sequences for C42'),
        ),
        claims=(
            exact('C42',
                  'H(0.5, 0.5) = 1 bit, H(0.8, 0.2) = 0.7219 bits; ANS reaches within 1% of entropy',
                  '001 "Entropy Coding Example"'),
            stat('C43',
                 'Bits-back ANS with a VAE is lossless and reaches the -ELBO rate',
                 '001 "Application: Bits-Back Coding"',
                 false_alarm=0.0054),
        )),
    Notebook("15_gan_density_ratio", BEYOND,
        params=dict(
            samples=Param(2000, 20000, 'samples per class for the density-ratio fits'),
            steps=Param(600, 3000, 'discriminator training steps'),
            batches=Param(20, 200, 'generator batches whose gradients are compared'),
        ),
        claims=(
            stat('C44',
                 'The optimal discriminator is D* = p*/(p* + q); its logit estimates log p*/q',
                 '001 (GAN slides)',
                 false_alarm=0.02),
            stat('C45',
                 'The non-saturating generator loss gives larger gradients than minimax when D rejects fakes',
                 '001 "Non-Saturating Generator Loss"',
                 false_alarm='a closed form against autograd and a one-sided power check: no nominal rate'),
        )),
    Notebook("16_diffusion_recap", BEYOND,
        params=dict(
            steps=Param(1000, 6000, 'DDPM training steps per seed'),
            seeds=Param(3, 5, 'training seeds for the guidance comparison'),
            chains=Param(4000, 40000, 'noising chains per starting point for C46'),
        ),
        claims=(
            exact('C46', 'DDPM forward marginal q(x_t|x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I)', '002 (recap)'),
            exact('C47', 'eps-prediction and score agree up to scale: s = -eps / sqrt(1 - abar_t)', '002 (recap)'),
            order('C48',
                  'Classifier-free guidance: gamma = 1 samples the conditional, gamma > 1 sharpens it',
                  '002 "Classifier-free-corrected noise prediction"',
                  quick=seed_dependent(reproduced=11, inconclusive=2)),
        )),
    Notebook("17_model_zoo", BEYOND, timed=True,
        params=dict(
            repeats=Param(3, 7, 'timing repeats per dimension'),
        ),
        claims=(
            stat('C49',
                 'The model property table (one-pass sampling, exact likelihood, free-form Jacobian), measured',
                 '004 (last table)',
                 false_alarm='exact table columns and a one-sided timing slope: no nominal rate'),
        )),)

BY_NAME = {nb.name: nb for nb in NOTEBOOKS}
CLAIMS: tuple[ClaimSpec, ...] = tuple(c for nb in NOTEBOOKS for c in nb.claims)
BY_ID = {c.id: c for c in CLAIMS}
# Notebooks that read another notebook's results (through ``ClaimBook.results_of``): the driver
# runs the dependency first and re-runs the reader when the dependency's results change.
DEPENDS_ON = {nb.name: nb.depends_on for nb in NOTEBOOKS if nb.depends_on}
# Notebooks whose claims rest on timings: the driver and the notebook tests run them alone.
TIMED = tuple(nb.name for nb in NOTEBOOKS if nb.timed)
# What `make test` re-executes one at a time after the rest: the timed notebooks, and those that read
# another's results (so that they read this run's, not the committed ones).
SERIAL = tuple(nb.name for nb in NOTEBOOKS if nb.timed or nb.depends_on)
# The book's sections in order, with the notebooks of each
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (s, tuple(nb.name for nb in NOTEBOOKS if nb.section == s)) for s in dict.fromkeys(nb.section for nb in NOTEBOOKS))
