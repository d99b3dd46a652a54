"""Statistics and measurement: bits/dim, log-log slopes, the three-outcome rule for orderings over seeds, the one timer,
the one call counter, parameter budgets, flow cost against dimension, and input validation."""
from flowlab.measure.bands import (
                                   QuadraticFormCumulants,
                                   bonferroni_z,
                                   pearson_quantiles,
                                   pearson_z,
                                   quadratic_form_cumulants,
                                   quadratic_form_z,
                                   rmse_loglog_slope,
                                   sample_mean_moments,
                                   sample_variance_moments,
                                   variance_band,
)
from flowlab.measure.bits import bits_per_dim, bits_per_dim_to_nats, mean_bits_per_dim, nats_to_bits_per_dim
from flowlab.measure.budget import count_parameters
from flowlab.measure.costs import direction_costs
from flowlab.measure.counting import CallCounter
from flowlab.measure.orders import OUTCOMES, OrderDecision, decide, detection_rate, higher, lower, not_worse, similar
from flowlab.measure.seeds import SeedComparison, compare_seeds, mean_lower_bound, mean_sd
from flowlab.measure.slopes import linear_fit, loglog_fit, loglog_slope
from flowlab.measure.timing import Timing, time_call

__all__ = ["OUTCOMES", "CallCounter", "OrderDecision", "QuadraticFormCumulants", "SeedComparison", "Timing",
           "bits_per_dim", "bits_per_dim_to_nats", "bonferroni_z", "compare_seeds", "count_parameters", "decide",
           "detection_rate", "higher", "lower", "not_worse", "similar", "direction_costs", "linear_fit", "loglog_fit",
           "loglog_slope", "mean_bits_per_dim", "mean_lower_bound", "mean_sd", "nats_to_bits_per_dim",
           "pearson_quantiles", "pearson_z", "quadratic_form_cumulants", "quadratic_form_z", "rmse_loglog_slope",
           "sample_mean_moments", "sample_variance_moments", "time_call", "variance_band"]
