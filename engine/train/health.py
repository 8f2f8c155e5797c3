"""A run that diverges without ever producing a NaN: its loss climbs far above where it started.

With a learning rate far too high (SGD at 1e12 on MNIST) the loss jumps from 2.3 to 1e11 and stays finite, and
the run "finishes" at chance accuracy with nothing said. The loop compares each logged training loss with the
loss of the very first step (the untrained network's, kept in the checkpoint so a resume compares with the same
value) and raises a warning once, which stays on the run: status.json `warning`, log.txt, a `diverged` mark on
every metrics row from then on, and the Train page.
"""
from __future__ import annotations

import math

__all__ = ["DIVERGE_FACTOR", "divergence_warning"]

DIVERGE_FACTOR = 10.0  # a training loss this many times its starting value (and at least 1 above it) has diverged


def divergence_warning(start: float | None, loss: float | None, step: int, lr: float) -> str | None:
    """The warning for a logged training loss `loss` at `step` given the first step's loss `start`, or None."""
    if start is None or loss is None or not math.isfinite(start) or not math.isfinite(loss) or start < 0:
        return None
    if loss <= max(DIVERGE_FACTOR * start, start + 1.0):
        return None
    return (f"the training diverged: the loss reached {loss:.3g} at step {step}, more than {DIVERGE_FACTOR:g}× its "
            f"starting value {start:.3g}. The weights it ends with are likely no better than chance; train again "
            f"with a lower learning rate (now {lr:g}), gradient clipping (clip_grad_norm=1.0) or a BatchNorm after "
            f"each layer.")
