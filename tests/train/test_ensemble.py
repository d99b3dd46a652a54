"""fit_image_flow_ensemble: the seeds of one architecture trained at once equal each seed trained alone."""
import pytest
import torch

from flowlab.flows import PERMUTATIONS, multiscale_model
from flowlab.train import fit_image_flow, seed_everything
from flowlab.train.ensemble import fit_image_flow_ensemble

PIXELS = torch.randint(0, 17, (96, 1, 4, 4), generator=torch.Generator().manual_seed(0))


def build(seed: int, permutation: str):
    g = seed_everything(seed)
    return multiscale_model((1, 4, 4), levels=1, depth=2, hidden=8, permutation=permutation, generator=g).double(), g


@pytest.mark.parametrize("permutation", PERMUTATIONS)
def test_an_ensemble_equals_its_copies_trained_one_by_one(permutation):
    torch.set_default_dtype(torch.float64)
    try:
        seeds = [3, 4, 5]
        alone = []
        for s in seeds:
            model, g = build(s, permutation)
            history, bpd = fit_image_flow(model, PIXELS, PIXELS[:32], 17, steps=6, batch_size=16, lr=5e-3,
                                          generator=g, eval_every=3, progress=False)
            alone.append((model, history, bpd))
        built = [build(s, permutation) for s in seeds]
        together = fit_image_flow_ensemble([m for m, _ in built], PIXELS, PIXELS[:32], 17, steps=6, batch_size=16,
                                           lr=5e-3, generators=[g for _, g in built], eval_every=3, progress=False)
    finally:
        torch.set_default_dtype(torch.float32)
    for (model, history, bpd), (twin, _), (twin_history, twin_bpd) in zip(alone, built, together):
        # float64 and six steps: vmap's batched kernels round differently, by ulps that Adam carries along
        assert twin_history.losses == pytest.approx(history.losses, rel=1e-9)
        (steps, bpds), (twin_steps, twin_bpds) = zip(*history.evals["test_bpd"]), zip(*twin_history.evals["test_bpd"])
        assert twin_steps == steps == (3, 6) and twin_bpds == pytest.approx(bpds, rel=1e-9)
        assert twin_bpd == pytest.approx(bpd, rel=1e-9)
        for p, q in zip(model.parameters(), twin.parameters()):
            assert torch.allclose(p, q, rtol=1e-8, atol=1e-10)
    # the copies are different fits (their own seeds and data), not one fit three times
    assert together[0][0].losses != together[1][0].losses


def test_ensemble_refuses_mismatched_inputs():
    (m, g), (m2, g2) = build(0, "conv"), build(1, "conv")
    with pytest.raises(ValueError, match="each model needs its generator, got 2 models, 1 generators"):
        fit_image_flow_ensemble([m, m2], PIXELS, PIXELS, 17, steps=1, batch_size=4, lr=1e-3, generators=[g])
    with pytest.raises(TypeError, match=r"fit_image_flow_ensemble: models\[1\] must be a FlowModel"):
        fit_image_flow_ensemble([m, object()], PIXELS, PIXELS, 17, steps=1, batch_size=4, lr=1e-3,
                                generators=[g, g2])
