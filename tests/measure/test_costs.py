"""direction_costs: network passes and CPU time of both directions of a flow against the dimension."""
import pytest

from flowlab.flows import MAF, realnvp
from flowlab.measure import direction_costs


def made_of(flow):
    return [flow.made]


def test_direction_costs_counts_passes_and_times_every_dimension():
    dims = [2, 3, 5]
    out = direction_costs(lambda d: MAF(d, hidden=8), dims, networks=made_of, batch=4, repeats=2, inner=1)
    assert out["dims"] == dims
    assert out["passes"] == {"forward": [1, 1, 1], "inverse": dims}  # MAF: 1 pass for the density, D to sample
    for direction in ("forward", "inverse"):
        t = out["cpu_seconds"][direction]
        assert len(t) == 2 and all(len(row) == 3 and min(row) >= 0 for row in t)
    flow = direction_costs(lambda d: realnvp(d, num_layers=3, hidden=8), [4], batch=2, repeats=1,
                           networks=lambda f: [layer.conditioner for layer in f])
    assert flow["passes"] == {"forward": [3], "inverse": [3]}


def test_errors():
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        direction_costs(lambda d: MAF(d), [2], networks=made_of, repeats=0)
    with pytest.raises(ValueError, match="direction_costs: dims is empty"):
        direction_costs(lambda d: MAF(d), [], networks=made_of)
    with pytest.raises(TypeError):
        direction_costs(lambda d: MAF(d), [2])  # networks= is required: what counts as a pass
