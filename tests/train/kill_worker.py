"""Run by tests/train/test_experiments.py: ``python -m flowlab.train``'s main with ARGS, killed (SIGKILL,
no clean-up) inside step ``KILL_AT`` of the ``VARIANT``-th variant's training."""
import os
import signal
import sys

from flowlab.train import __main__ as entry
from flowlab.train import ensemble, loop


def main(kill_at: int, variant: int, argv: list[str]) -> int:
    guarded, fits = loop._guarded_step, iter(range(1, 10 ** 6))
    fit, current = loop.fit, [0]

    def counting_fit(*args, **kwargs):
        current[0] = next(fits)
        return fit(*args, **kwargs)

    def step_then_die(model, loss, opt, params, grad_clip, desc, step, steps):
        if current[0] == variant and step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return guarded(model, loss, opt, params, grad_clip, desc, step, steps)

    loop._guarded_step = step_then_die
    ensemble.fit = counting_fit
    return entry.main(argv)


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]))
