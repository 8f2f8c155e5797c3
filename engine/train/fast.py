"""The opt-in fast mode (TrainConfig.fast): the training forward and backward run through `torch.compile`.

The first step compiles (tens of seconds on a CPU, several on a GPU): the status says "warm-up" while it does, the
seconds it took go into status.json (`warmup_s`) and log.txt, and the step is logged as a metrics line of its own
(step 1, with `warmup_s`), so the images/s of the lines after it are the compiled speed. `elapsed` (and seconds to a target accuracy) include the
warm-up: it is time the user waits. Evaluation and the saved weights use the plain module (same parameters), so
checkpoints, resume and the results are those of a normal run. The compiled function is cached per module, so a
DDP-wrapped module (engine.train.distributed) is compiled as it is.
"""
from __future__ import annotations

import time

import torch

__all__ = ["COMPILE", "FastRun", "runner"]

COMPILE: dict = {}  # torch.compile's options (default: the inductor backend); the CPU test swaps in "aot_eager"


class FastRun:
    """Mixed in before a task's Run class: its train_step sees the compiled module as self.model."""

    def setup(self) -> None:
        super().setup()
        self._compiled: dict[int, torch.nn.Module] = {}
        self.warmup_s: float | None = None

    def train_step(self, idx: torch.Tensor) -> None:
        model = self.model
        compiled = self._compiled.get(id(model))
        if compiled is None:
            compiled = self._compiled[id(model)] = torch.compile(model, **COMPILE)
        first = self.warmup_s is None
        if first:
            self.status("running", "fast mode: compiling the network (warm-up, the first step)", say=True)
            t = time.perf_counter()
        self.model = compiled
        try:
            super().train_step(idx)
        finally:
            self.model = model
        if first:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.warmup_s = time.perf_counter() - t
            self.log_window({"warmup_s": round(self.warmup_s, 3)})  # a metrics line of its own: the warm-up step
            self.status("running", f"fast mode: warm-up (compiling) took {self.warmup_s:.1f} s; training",
                        say=True, warmup_s=round(self.warmup_s, 3))

    def status(self, state: str, message: str, say: bool = False, **extra) -> None:
        if getattr(self, "warmup_s", None) is not None and "warmup_s" not in extra:
            extra["warmup_s"] = round(self.warmup_s, 3)  # stays in status.json for the rest of the run
        super().status(state, message, say=say, **extra)


def runner(cls: type, fast: bool) -> type:
    """cls itself, or with fast=True, cls with the compiled training step."""
    return type(f"Fast{cls.__name__}", (FastRun, cls), {}) if fast else cls
