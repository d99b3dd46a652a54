"""Statistics and measurement: bits/dim, log-log slopes, the three-outcome rule for orderings over seeds, bands
with a known false-alarm rate, the one timer, parameter budgets and flow cost against dimension.

The one call counter is :class:`flowlab.measure.counting.CallCounter`; the bands' moments
(``quadratic_form_cumulants`` ...) live in :mod:`flowlab.measure.bands`."""
from flowlab.measure.bands import bonferroni_z, pearson_z, quadratic_form_z, rmse_loglog_slope, variance_band
from flowlab.measure.bits import bits_per_dim, mean_bits_per_dim, nats_to_bits_per_dim
from flowlab.measure.budget import count_parameters
from flowlab.measure.costs import direction_costs
from flowlab.measure.orders import decide, higher, lower, not_worse, similar
from flowlab.measure.seeds import compare_seeds, mean_lower_bound, mean_sd
from flowlab.measure.slopes import linear_fit, loglog_fit, loglog_slope
from flowlab.measure.timing import time_call

__all__ = ["bits_per_dim", "bonferroni_z", "compare_seeds", "count_parameters", "decide", "direction_costs",
           "higher", "linear_fit", "loglog_fit", "loglog_slope", "lower", "mean_bits_per_dim", "mean_lower_bound",
           "mean_sd", "nats_to_bits_per_dim", "not_worse", "pearson_z", "quadratic_form_z", "rmse_loglog_slope",
           "similar", "time_call", "variance_band"]
