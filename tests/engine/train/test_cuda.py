"""The trainer on a CUDA GPU (`pytest -m cuda`, part of `make gpu-check`): bf16 autocast, channels_last, pinned
non-blocking transfers, a real out-of-memory, device memory in the metrics, exact resume, fast mode and several
GPUs. Each test skips with the reason when torch sees no GPU (CI and the CPU-only machines)."""
from __future__ import annotations

import pytest
import torch

from engine.data import load_data
from engine.graph import load_graph
from engine.train.config import TrainConfig
from engine.train.loop import Run, Stop
from engine.train.rundir import RunDir
from engine.train.trainer import resume, train
from tests.engine.train.test_trainer import SMALL, assert_same_weights, cfg, status, weights

NO_GPU = "needs a CUDA GPU (torch.cuda.is_available() is False here); run it in `make gpu-check` on a GPU machine"
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)]

def gpu_cfg(**kw) -> TrainConfig:
    return cfg(device="cuda", **kw)


def started_run(tmp_path, **kw) -> Run:
    run = Run(load_graph(SMALL), gpu_cfg(**kw), RunDir(tmp_path / "r"), Stop(None))
    RunDir(tmp_path / "r").path.mkdir(parents=True, exist_ok=True)
    run.setup()
    return run


def test_auto_precision_is_bf16_autocast_with_fp32_weights_and_channels_last_inputs(tmp_path):
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16: precision auto is fp32 here")
    run = started_run(tmp_path, max_steps=2)
    assert run.amp == torch.bfloat16 and run.channels_last
    conv = next(m for m in run.model.modules() if isinstance(m, torch.nn.Conv2d))
    seen = {}

    def hook(module, inputs, output):
        seen["in"], seen["out"] = inputs[0], output

    conv.register_forward_hook(hook)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert run.run(None) == "finished"
    assert seen["out"].dtype == torch.bfloat16  # autocast ran the conv in bf16
    assert seen["in"].is_contiguous(memory_format=torch.channels_last)
    assert all(p.dtype == torch.float32 for p in run.model.parameters())  # the weights stay fp32
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in run.model.parameters())


def test_data_moves_to_the_gpu_through_pinned_memory_unchanged():
    data = load_data("mnist-sample", limit=512)
    calls = []
    real = torch.Tensor.pin_memory

    def spy(t, *a, **k):
        calls.append(t.shape)
        return real(t, *a, **k)

    torch.Tensor.pin_memory = spy
    try:
        on_gpu = data.to("cuda")
    finally:
        torch.Tensor.pin_memory = real
    torch.cuda.synchronize()
    assert len(calls) == 4  # x/y train and val, each staged in page-locked memory for the async copy
    assert on_gpu.x_train.is_cuda and torch.equal(on_gpu.x_train.cpu(), data.x_train)
    assert torch.equal(on_gpu.y_val.cpu(), data.y_val)


def test_device_memory_is_reported_in_the_metrics(tmp_path):
    run = train(SMALL, gpu_cfg(epochs=1), tmp_path / "r")
    assert status(run)["state"] == "finished"
    rows = RunDir(run).metrics()[0]
    total = torch.cuda.get_device_properties(0).total_memory
    assert rows and all(isinstance(r["device_mem"], int) and 0 < r["device_mem"] <= total for r in rows)


def test_resume_on_the_gpu_is_exact(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)  # bitwise-repeatable conv kernels
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    straight = train(SMALL, gpu_cfg(), tmp_path / "straight")
    split = train(SMALL, gpu_cfg(), tmp_path / "split", should_stop=lambda step: step >= 3)
    assert status(split)["state"] == "stopped" and status(split)["step"] == 3
    resume(split)
    assert status(split)["state"] == "finished"
    assert_same_weights(weights(straight), weights(split))  # dropout, crops, flips: CUDA RNG restored too
    ep = lambda run: [(r["step"], r["val_acc"]) for r in RunDir(run).metrics()[0] if r["kind"] == "epoch"]
    assert ep(straight) == ep(split)


def test_a_real_out_of_memory_fails_with_a_clear_message_and_keeps_the_checkpoint(tmp_path):
    hog: list[torch.Tensor] = []

    def fill_the_gpu(step: int) -> bool:
        if step == 6 and not hog:  # epoch 1 (5 steps) is checkpointed; now leave no room for the next step
            for size in (2**30, 2**26, 2**20, 2**16):
                while True:
                    try:
                        hog.append(torch.empty(size, dtype=torch.uint8, device="cuda"))
                    except torch.cuda.OutOfMemoryError:
                        break
        return False

    try:
        run = train(SMALL, gpu_cfg(epochs=3, batch_size=64), tmp_path / "r", should_stop=fill_the_gpu)
    finally:
        hog.clear()
        torch.cuda.empty_cache()
    st = status(run)
    assert st["state"] == "failed", st
    assert st["message"].startswith("ran out of GPU memory at batch size 64") and "Try batch size 32" in st["message"]
    assert "GiB used of" in st["message"] and "the last checkpoint is kept" in st["message"]
    tensors, state = RunDir(run).load_last_state()
    assert state["step"] == 5 and all(torch.isfinite(t).all() for t in tensors.values())
    resume(run)  # with the memory back, the run continues from that checkpoint
    assert status(run)["state"] == "finished" and status(run)["step"] == 15


def test_fast_mode_compiles_on_the_gpu_and_reports_the_warm_up(tmp_path):
    run = train(SMALL, gpu_cfg(epochs=1, fast=True), tmp_path / "r")
    st = status(run)
    assert st["state"] == "finished", st
    assert st["warmup_s"] > 0


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs (NCCL runs one process per GPU)")
def test_two_gpus_train_one_run(tmp_path):
    from tests.engine.train.test_distributed import BASE, NET, assert_same_run

    options = {**BASE, "device": "cuda", "precision": "fp32"}
    single = train(NET, TrainConfig(**options), tmp_path / "single")
    multi = train(NET, TrainConfig(**options, nproc=2), tmp_path / "multi")  # launches torchrun (NCCL)
    assert status(multi)["state"] == "finished", status(multi)
    assert_same_run(single, multi)
