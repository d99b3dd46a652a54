"""Estimators: traces of Jacobians (exact, Hutchinson, Hutch++, bottleneck), their variances, and
the divergences a CNF integrates."""
from flowlab.estimators.gradients import GradientSamples, reparametrization_gradient, score_function_gradient
from flowlab.estimators.logdet_series import (
    TRUNCATIONS,
    RouletteMoments,
    iresnet_tail_bound,
    logdet_exact,
    power_traces,
    roulette_log_survival,
    roulette_logdet,
    roulette_logdet_samples,
    roulette_moments,
    roulette_variance_finite,
    sample_mean_z,
    series_tail,
    truncated_logdet,
    truncated_logdet_samples,
)
from flowlab.estimators.trace import (
    NOISES,
    Operator,
    as_operator,
    divergence_bottleneck,
    divergence_exact,
    divergence_hutchinson,
    draw_probes,
    exact_trace,
    field_jacobian,
    hutch_plus_plus,
    hutchinson_bottleneck_samples,
    hutchinson_samples,
    hutchinson_trace,
    hutchinson_variance,
    integrated_jacobian,
    sample_variance_se,
    symmetric_part,
)

__all__ = ["TRUNCATIONS", "RouletteMoments", "iresnet_tail_bound", "logdet_exact", "power_traces",
           "roulette_log_survival", "roulette_logdet", "roulette_logdet_samples", "roulette_moments",
           "roulette_variance_finite", "sample_mean_z", "series_tail", "truncated_logdet",
           "truncated_logdet_samples",
           "NOISES", "Operator", "as_operator", "divergence_bottleneck", "divergence_exact",
           "divergence_hutchinson", "draw_probes", "exact_trace", "field_jacobian", "hutch_plus_plus",
           "hutchinson_bottleneck_samples", "hutchinson_samples", "hutchinson_trace",
           "hutchinson_variance", "integrated_jacobian", "sample_variance_se", "symmetric_part",
           "GradientSamples", "reparametrization_gradient", "score_function_gradient"]
