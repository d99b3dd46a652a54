"""fit_image_flow: maximum likelihood on dequantized integer images, in bits/dim."""
import math

import torch

from flowlab.flows import multiscale_model
from flowlab.train import fit_image_flow


def test_fit_image_flow_learns_something():
    g = torch.Generator().manual_seed(4)
    pixels = torch.randint(0, 3, (64, 1, 4, 4), generator=g) * 7  # 3 of 17 levels used
    model = multiscale_model((1, 4, 4), levels=1, depth=1, hidden=8, generator=g)
    history, bpd = fit_image_flow(model, pixels, pixels[:16], 17, steps=60, batch_size=32, lr=5e-3,
                                  generator=g, eval_every=30, progress=False)
    assert len(history.evals["test_bpd"]) == 2 and bpd == history.evals["test_bpd"][-1][1]
    assert bpd < math.log2(17) and history.losses[-1] < history.losses[0]
