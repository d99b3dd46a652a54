"""Estimators: traces of Jacobians (exact, Hutchinson, Hutch++, bottleneck), their variances, and
the divergences a CNF integrates."""
from flowlab.estimators.gradients import GradientSamples, reparametrization_gradient, score_function_gradient
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

__all__ = ["NOISES", "Operator", "as_operator", "divergence_bottleneck", "divergence_exact",
           "divergence_hutchinson", "draw_probes", "exact_trace", "field_jacobian", "hutch_plus_plus",
           "hutchinson_bottleneck_samples", "hutchinson_samples", "hutchinson_trace",
           "hutchinson_variance", "integrated_jacobian", "sample_variance_se", "symmetric_part",
           "GradientSamples", "reparametrization_gradient", "score_function_gradient"]
