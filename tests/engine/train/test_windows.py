"""Device memory in the metrics rows: each logged window's own peak (reset after every row), the epoch row the
peak of its whole epoch, and no figure at all on a CPU. The real GPU test skips without one (`make gpu-check`);
the bookkeeping is also checked on any machine against a stand-in allocator."""
from __future__ import annotations

import pytest
import torch

from engine.graph import load_graph
from engine.train.loop import Run, Stop
from engine.train.rundir import RunDir
from engine.train.trainer import train
from tests.engine.train.test_trainer import SMALL, cfg, status

BIG = 2**29  # bytes: far above what SMALL and 320 digits need on a GPU


class FakeAllocator:
    """torch.cuda's two memory counters as the CUDA caching allocator keeps them: the peak since the last reset,
    and a reset that lowers the peak to what is allocated now."""

    def __init__(self):
        self.now = self.peak = 0

    def alloc(self, n: int) -> None:
        self.now += n
        self.peak = max(self.peak, self.now)

    def free(self, n: int) -> None:
        self.now -= n

    def max_memory_allocated(self, device=None) -> int:
        return self.peak

    def reset_peak_memory_stats(self, device=None) -> None:
        self.peak = self.now


def test_each_row_gets_its_own_windows_peak_and_the_epoch_row_the_epochs(tmp_path, monkeypatch):
    mem = FakeAllocator()
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", mem.max_memory_allocated)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", mem.reset_peak_memory_stats)
    run = Run(load_graph(SMALL), cfg(), RunDir(tmp_path / "r"), Stop(None))
    run.start_progress()
    run.device = torch.device("cuda", 0)
    mem.alloc(10)  # weights and data, resident all along
    mem.alloc(100)  # window 1: a large step
    mem.free(100)
    assert run.device_mem() == 110
    mem.alloc(30)  # window 2: a smaller one; the first window's peak is not carried into this row
    mem.free(30)
    assert run.device_mem() == 40
    mem.alloc(50)  # the epoch's evaluation
    mem.free(50)
    assert run.device_mem(epoch=True) == 110  # the epoch row: the largest of its windows and the evaluation
    mem.alloc(20)  # the next epoch starts from its own windows only
    mem.free(20)
    assert run.device_mem() == 30 and run.device_mem(epoch=True) == 30


def test_rows_on_a_cpu_have_no_device_memory(tmp_path):
    run = train(SMALL, cfg(device="cpu", epochs=1, limit=128), tmp_path / "r")
    assert status(run)["state"] == "finished"
    rows = RunDir(run).metrics()[0]
    assert {r["kind"] for r in rows} == {"step", "epoch", "test"}
    assert all(r["device_mem"] is None for r in rows)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; run it in `make gpu-check`")
def test_on_the_gpu_a_large_step_shows_in_its_own_window_only(tmp_path):
    held: list[torch.Tensor] = []

    def spike(step: int) -> bool:  # called before each step: the step after step 3 allocates BIG bytes once
        if step == 3:
            held.append(torch.empty(BIG, dtype=torch.uint8, device="cuda"))
        elif held:
            held.clear()
        return False

    # 5 steps an epoch (320 / 64), 2 epochs; BIG is held through step 4 and freed before step 5 (its row is
    # logged with BIG still allocated, so the window after it starts that high too)
    run = train(SMALL, cfg(device="cuda", log_every=1), tmp_path / "r", should_stop=spike)
    assert status(run)["state"] == "finished", status(run)
    rows = RunDir(run).metrics()[0]
    step = {r["step"]: r["device_mem"] for r in rows if r["kind"] == "step"}
    epoch = [r["device_mem"] for r in rows if r["kind"] == "epoch"]
    assert step[4] >= BIG and step[3] < BIG and step[6] < BIG and step[10] < BIG, step
    assert epoch[0] >= BIG and epoch[1] < BIG, epoch
