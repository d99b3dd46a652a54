"""Estimators: traces of Jacobians (exact, Hutchinson, Hutch++) and their variances."""
from flowlab.estimators.trace import (
    NOISES,
    Operator,
    as_operator,
    draw_probes,
    exact_trace,
    hutch_plus_plus,
    hutchinson_bottleneck_samples,
    hutchinson_samples,
    hutchinson_trace,
    hutchinson_variance,
    integrated_jacobian,
    sample_variance_se,
    symmetric_part,
)

__all__ = ["NOISES", "Operator", "as_operator", "draw_probes", "exact_trace", "hutch_plus_plus",
           "hutchinson_bottleneck_samples", "hutchinson_samples", "hutchinson_trace",
           "hutchinson_variance", "integrated_jacobian", "sample_variance_se", "symmetric_part"]
