"""Run by tests/train/test_resume.py: fit_image_flow on 4x4 images with a checkpoint every 5 steps,
killed (SIGKILL, no clean-up) at step ``KILL_AT`` when that is set; the final weights go to ``OUT``."""
import os
import signal
import sys

import torch

from flowlab.flows import multiscale_model
from flowlab.train import fit_image_flow, seed_everything


def main(checkpoint: str, out: str, kill_at: int) -> None:
    g = seed_everything(7)
    pixels = torch.randint(0, 17, (64, 1, 4, 4), generator=g)
    model = multiscale_model((1, 4, 4), levels=1, depth=2, hidden=8, generator=g)
    if kill_at:
        # the kill lands inside the loss evaluation of step kill_at, after the save at a multiple of 5
        forward = model.flow.forward
        calls = iter(range(1, 10 ** 6))

        def forward_then_die(*args, **kwargs):
            if next(calls) == kill_at + 1:  # call 1 is ActNorm's init batch
                os.kill(os.getpid(), signal.SIGKILL)
            return forward(*args, **kwargs)

        model.flow.forward = forward_then_die
    history, bpd = fit_image_flow(model, pixels, pixels[:16], 17, steps=20, batch_size=8, lr=5e-3, generator=g,
                                  eval_every=10, progress=False, checkpoint=checkpoint, checkpoint_every=5)
    torch.save({"model": model.state_dict(), "losses": torch.tensor(history.losses), "bpd": bpd}, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
