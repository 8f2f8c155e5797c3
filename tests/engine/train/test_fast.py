"""Fast mode (TrainConfig.fast): torch.compile on the training step, the warm-up reported as such."""
from __future__ import annotations

import pytest
import torch

from engine.train import fast as fast_mode
from engine.train.rundir import RunDir
from engine.train.runs import load_trained
from engine.train.trainer import TrainConfig, train
from tests.engine.train.test_distributed import NET


@pytest.mark.slow
def test_fast_mode_trains_the_same_network_and_reports_its_warm_up(tmp_path, monkeypatch, capsys):
    # TorchDynamo captures the step and AOTAutograd traces forward and backward, as in the real mode; the
    # inductor code generation is swapped out because it takes 80 s on 2 busy cores (the cuda test runs it)
    monkeypatch.setattr(fast_mode, "COMPILE", {"backend": "aot_eager"})
    base = dict(data="mnist-sample", limit=256, batch_size=64, epochs=1, log_every=2, augment="none", device="cpu",
                precision="fp32")
    plain = train(NET, TrainConfig(**base), tmp_path / "plain")
    fast = train(NET, TrainConfig(**base, fast=True), tmp_path / "fast")
    st = RunDir(fast).status()
    assert st["state"] == "finished", st
    assert st["warmup_s"] > 0  # the compile time, kept in the status for the rest of the run
    out = capsys.readouterr().out  # log.txt when the app runs it
    assert "fast mode: compiling the network (warm-up" in out and "fast mode: warm-up (compiling) took" in out
    a, b = load_trained(plain, "last")[1].state_dict(), load_trained(fast, "last")[1].state_dict()
    for k in a:  # the compiled kernels sum in another order: equal to float rounding after 4 Adam steps
        assert torch.allclose(a[k], b[k], rtol=0, atol=1e-4), k
    first = RunDir(fast).metrics()[0][0]  # the warm-up step is a metrics line of its own
    assert first["step"] == 1 and first["warmup_s"] == st["warmup_s"]
    rows = [r for r in RunDir(fast).metrics()[0] if r["kind"] == "epoch"]
    assert rows[-1]["val_acc"] == pytest.approx([r for r in RunDir(plain).metrics()[0]
                                                 if r["kind"] == "epoch"][-1]["val_acc"], abs=0.01)


def test_an_out_of_memory_wrapped_by_the_compiler_still_names_the_batch_size(tmp_path, monkeypatch):
    import engine.train.loop as loop

    real = loop.build_module

    def exploding(g):
        m = real(g)

        def forward(*a, **k):  # what torch.compile raises when the GPU runs out while it compiles
            try:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            except torch.cuda.OutOfMemoryError as e:
                raise RuntimeError("backend='inductor' raised: OutOfMemoryError") from e
        m.forward = forward
        return m

    monkeypatch.setattr(loop, "build_module", exploding)
    run = train(NET, TrainConfig(data="mnist-sample", limit=256, batch_size=64, device="cpu"), tmp_path / "r")
    st = RunDir(run).status()
    assert st["state"] == "failed" and st["message"].startswith("ran out of GPU memory at batch size 64"), st
