"""The one place inputs are checked: counts refuse bools and floats (TypeError) and out-of-range
integers (ValueError); tensors must be finite, non-empty, of the layer's dtype; shapes are named."""
import inspect

import pytest
import torch

from flowlab.validate import check_choice, check_count, check_positive, check_shape, check_tensor


def test_check_count():
    assert check_count(3, "steps") == 3 and check_count(0, "seed", minimum=0) == 0
    for bad in (True, 2.0, 2.5, "3", None):
        with pytest.raises(TypeError, match="steps must be an integer"):
            check_count(bad, "steps", "fit")
    with pytest.raises(ValueError, match="fit: steps must be a positive integer, got 0"):
        check_count(0, "steps", "fit")
    with pytest.raises(ValueError, match="seed must be"):
        check_count(-1, "seed", minimum=0)


def test_check_positive_and_choice():
    assert check_positive(2, "lr") == 2.0
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="lr must be a positive"):
            check_positive(bad, "lr")
    with pytest.raises(TypeError, match="lr must be a positive number"):
        check_positive(True, "lr")
    with pytest.raises(ValueError, match=r"unknown clock 'x'; expected one of \('a', 'b'\)"):
        check_choice("x", ("a", "b"), "clock")


def test_check_tensor_and_shape():
    like = torch.zeros(1, dtype=torch.float64)
    x = torch.randn(2, 3, dtype=torch.float64)
    assert check_shape(x, (3,), "layer", like=like) is x
    assert check_shape(torch.randn(2, 4, 5, 6), (4, None, None), "conv") is not None
    with pytest.raises(ValueError, match=r"layer expects input of shape \[batch, 4\], got \[2, 3\]"):
        check_shape(x, (4,), "layer")
    with pytest.raises(ValueError, match=r"\[batch, 4, \*, \*\]"):
        check_shape(torch.randn(2, 3, 5, 5), (4, None, None), "conv")
    with pytest.raises(TypeError, match="expects dtype torch.float32"):
        check_tensor(x, "layer", like=torch.zeros(1))
    with pytest.raises(TypeError, match="floating-point"):
        check_tensor(torch.ones(2, dtype=torch.long), "layer")
    with pytest.raises(ValueError, match="non-finite"):
        check_tensor(torch.tensor([1.0, float("nan")]), "layer")
    with pytest.raises(ValueError, match="empty batch"):
        check_tensor(torch.zeros(0, 3), "layer")
    with pytest.raises(TypeError, match="torch.Tensor"):
        check_tensor([1.0], "layer")


def test_checked_runs_the_contracts_written_in_the_signature():
    from flowlab.validate import Count, MaybePositive, OneOf, Rng, checked

    class Layer:
        @checked
        def __init__(self, features: Count, step: MaybePositive = None, kind: OneOf(("a", "b")) = "a",
                     generator: Rng = None):
            self.features, self.step, self.kind = features, step, kind

        @checked
        def sample(self, n: Count, generator: Rng = None):
            return n

    class Sub(Layer):
        pass

    import numpy as np
    layer = Layer(np.int64(3), step=2)
    assert type(layer.features) is int and layer.step == 2.0 and type(layer.step) is float
    assert Layer(2, None).step is None and layer.sample(n=4) == 4
    with pytest.raises(TypeError, match="Sub: features must be an integer >= 1, got bool True"):
        Sub(True)
    with pytest.raises(ValueError, match="Layer: step must be a positive finite number, got 0"):
        Layer(2, 0)
    with pytest.raises(ValueError, match=r"Layer: unknown kind 'c'; expected one of \('a', 'b'\)"):
        Layer(2, kind="c")
    with pytest.raises(TypeError, match="Layer.sample: generator must be a torch.Generator or None"):
        layer.sample(2, generator=0)
    with pytest.raises(ValueError, match="Layer.sample: n must be a positive integer, got 0"):
        layer.sample(0)
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        layer.sample()
    assert "Annotated[int, Count(>= 1)]" in str(inspect.signature(Layer.sample))  # what help() shows


def test_shape_names_sizes_across_the_arguments_of_one_call():
    from flowlab.validate import Shape, checked

    @checked
    def gap(q_mean: Shape("B k"), q_var: Shape("B k", positive=True), p_cov: Shape("k k"), u: Shape("... k") = None):
        return q_mean.shape

    class Model:
        k = 2

        @checked
        def elbo(self, x: Shape("B k")):
            return len(x)

    f64 = torch.float64
    q, v, c = torch.zeros(4, 2, dtype=f64), torch.ones(4, 2, dtype=f64), torch.eye(2, dtype=f64)
    assert gap(q, v, c) == (4, 2) and gap(q, v, c, u=torch.zeros(7, 3, 2, dtype=f64)) == (4, 2)
    assert Model().elbo(torch.zeros(5, 2)) == 5
    with pytest.raises(ValueError, match=r"gap: q_var must have shape \[B, k\] \(B = 4, k = 2, sizes >= 1\), got \[3,"):
        gap(q, v[:3], c)
    with pytest.raises(ValueError, match=r"gap: p_cov must have shape \[k, k\] \(k = 2, sizes >= 1\), got \[3, 3\]"):
        gap(q, v, torch.eye(3, dtype=f64))
    with pytest.raises(ValueError, match=r"gap: u must have shape \[\.\.\., k\]"):
        gap(q, v, c, u=torch.zeros(3, dtype=f64))
    with pytest.raises(ValueError, match=r"gap: q_mean must have shape \[B, k\] .* got \[0, 2\]"):
        gap(q[:0], v[:0], c)
    with pytest.raises(ValueError, match=r"gap: q_mean must have shape \[B, k\] .* got \[4, 2, 1\]"):
        gap(q[..., None], v, c)
    with pytest.raises(ValueError, match="gap: q_var must be positive"):
        gap(q, -v, c)
    with pytest.raises(TypeError, match="gap: q_var is torch.float32 but q_mean is torch.float64; pass them in one"):
        gap(q, v.float(), c)
    with pytest.raises(ValueError, match=r"gap \(its q_var\) got a tensor on the 'meta' device"):
        gap(q, torch.ones(4, 2, dtype=f64, device="meta"), c)
    with pytest.raises(ValueError, match=r"gap \(its q_mean\) got non-finite values"):
        gap(q + float("nan"), v, c)
    with pytest.raises(ValueError, match=r"Model.elbo: x must have shape \[B, k\] \(B = 5, k = 2"):
        Model().elbo(torch.zeros(5, 3))
    assert "Shape[B k] > 0" in str(inspect.signature(gap))
