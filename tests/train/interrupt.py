"""Stop a checkpointed training run mid-way, as a kill would, and resume it."""
from __future__ import annotations

import pytest
import torch


def interrupt_and_resume(monkeypatch, module, name, run, checkpoint, step_of=None, stop_at=5):
    """Run ``run(checkpoint)`` with ``module.name``, a function called once a step, raising
    ``KeyboardInterrupt`` at step ``stop_at``; check the checkpoint holds the step before; run again and
    return ``(its result, the steps the resumed run took)``. A step is ``step_of(args)`` or, without it,
    the call's count."""
    real, count, taken, stopping = getattr(module, name), [0], [], [True]

    def once_a_step(*args):
        count[0] += 1
        step = step_of(args) if step_of else count[0]
        if stopping[0] and step == stop_at:
            raise KeyboardInterrupt
        if not stopping[0]:
            taken.append(step)
        return real(*args)

    monkeypatch.setattr(module, name, once_a_step)
    with pytest.raises(KeyboardInterrupt):
        run(checkpoint)
    assert torch.load(checkpoint, weights_only=True)["step"] == stop_at - 1
    stopping[0], count[0] = False, stop_at - 1
    return run(checkpoint), taken
