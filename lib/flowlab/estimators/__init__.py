"""Estimators: traces of Jacobians (exact, Hutchinson, Hutch++), their variances, the log-det series
(truncated, Russian roulette) and gradient estimators.

The divergences a CNF integrates and the probes it draws live in :mod:`flowlab.estimators.trace`
(``divergence_exact``, ``divergence_hutchinson``, ``divergence_bottleneck``, ``draw_probes``)."""
from flowlab.estimators.gradients import reparametrization_gradient, score_function_gradient
from flowlab.estimators.logdet_series import (
    iresnet_tail_bound,
    logdet_exact,
    power_traces,
    roulette_logdet_samples,
    roulette_moments,
    roulette_variance_finite,
    sample_mean_z,
    series_tail,
    truncated_logdet_samples,
)
from flowlab.estimators.trace import (
    as_operator,
    bottleneck_jacobian,
    exact_trace,
    field_jacobian,
    hutch_plus_plus,
    hutchinson_samples,
    hutchinson_variance,
    integrated_jacobian,
    sample_variance_se,
)

__all__ = ["as_operator", "bottleneck_jacobian", "exact_trace", "field_jacobian", "hutch_plus_plus",
           "hutchinson_samples", "hutchinson_variance", "integrated_jacobian", "iresnet_tail_bound",
           "logdet_exact", "power_traces", "reparametrization_gradient", "roulette_logdet_samples",
           "roulette_moments", "roulette_variance_finite", "sample_mean_z", "sample_variance_se",
           "score_function_gradient", "series_tail", "truncated_logdet_samples"]
