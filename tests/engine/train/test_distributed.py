"""Several processes, one run: `--nproc 2` under torchrun with the gloo backend on 2 CPU processes.

The contract (engine/train/distributed.py): at the same global batch, N processes train what one process trains,
up to float rounding in the gradient sum. Tolerance stated here: weights within 1e-5 absolute, logged losses within
1e-5 relative, validation accuracy equal. The net has no dropout and augmentation is off, because per-example
randomness is drawn per rank (the same for the same N, not the single-process draw).
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from engine.train import distributed
from engine.train.rundir import RunDir
from engine.train.runs import load_trained, prepare_run
from engine.train.trainer import TrainConfig, train

ROOT = Path(__file__).resolve().parents[3]
NET = {"format": "convas-graph", "version": 1, "name": "ddp cnn", "outputs": ["fc"],
       "task": {"kind": "classification", "num_classes": 10},
       "nodes": [{"id": "x", "op": "Input", "params": {"shape": [1, 28, 28]}},
                 {"id": "conv", "op": "Conv2d", "params": {"out_channels": 6, "kernel_size": 3}, "inputs": ["x"]},
                 {"id": "relu", "op": "ReLU", "inputs": ["conv"]},
                 {"id": "pool", "op": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["relu"]},
                 {"id": "flat", "op": "Flatten", "inputs": ["pool"]},
                 {"id": "fc", "op": "Linear", "params": {"out_features": 10}, "inputs": ["flat"]}]}
# 330 examples at batch 64: 5 full batches and a last one of 10 (5 per rank), 2 epochs, a step line every 2 steps
BASE = dict(data="mnist-sample", limit=330, batch_size=64, epochs=2, log_every=2, augment="none", device="cpu",
            precision="fp32", lr=3e-3)
ATOL, RTOL = 1e-5, 1e-5


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "engine", "train", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def assert_same_run(single: Path, multi: Path) -> None:
    a, b = load_trained(single, "last")[1].state_dict(), load_trained(multi, "last")[1].state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=ATOL), (k, (a[k] - b[k]).abs().max())
    ra, rb = RunDir(single).metrics()[0], RunDir(multi).metrics()[0]
    assert [(r["kind"], r["step"], r["epoch"]) for r in ra] == [(r["kind"], r["step"], r["epoch"]) for r in rb]
    for x, y in zip(ra, rb):
        assert x["train_loss"] == pytest.approx(y["train_loss"], rel=RTOL), x
        assert x["train_acc"] == y["train_acc"], x  # counts of correct examples: summed over ranks, exact
        if x["kind"] == "epoch":
            assert x["val_acc"] == y["val_acc"] and x["val_loss"] == pytest.approx(y["val_loss"], rel=RTOL)
    assert RunDir(single).results()["confusion"] == RunDir(multi).results()["confusion"]


@contextlib.contextmanager
def _plain_main():
    """Spawned children re-run the parent's __main__ file; a Streamlit AppTest earlier in the session leaves the
    app's script there (app.py), which must not run in a trainer process. Spawn from a bare __main__ instead."""
    real = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = real


@pytest.mark.slow
def test_two_processes_train_what_one_process_trains_and_resume_exactly(tmp_path):
    single = train(NET, TrainConfig(**BASE), tmp_path / "single")
    assert RunDir(single).status()["state"] == "finished"

    # the user's path: the command line with --nproc 2 (torchrun, gloo); rank 0 alone writes the directory
    graph = tmp_path / "net.json"
    graph.write_text(__import__("json").dumps(NET))
    opts = [f"--{k.replace('_', '-')}={v}" for k, v in BASE.items()]
    p = cli(str(graph), *opts, "--nproc", "2", "--out", str(tmp_path / "runs"))
    assert p.returncode == 0, p.stdout + p.stderr
    multi = Path(p.stdout.splitlines()[0])
    st = RunDir(multi).status()
    assert st["state"] == "finished", st
    assert RunDir(multi).config().nproc == 2
    assert_same_run(single, multi)

    # Stop (SIGTERM to rank 0) inside epoch 1, then --resume: torchrun again, every rank restores its state
    stopped = prepare_run(NET, TrainConfig(**BASE, nproc=2), tmp_path / "runs", "stopped")
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(29500 + os.getpid() % 1000), "WORLD_SIZE": "2"}
    ctx = torch.multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(stopped), {**env, "RANK": str(r), "LOCAL_RANK": str(r)}))
             for r in range(2)]
    with _plain_main():
        for proc in procs:
            proc.start()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    st = RunDir(stopped).status()
    assert st["state"] == "stopped" and st["step"] == 4, st
    state = RunDir(stopped).load_last_state()[1]
    assert state["step"] == 4 and len(state["ranks"]) == 2
    p = cli("--resume", str(stopped))
    assert p.returncode == 0, p.stdout + p.stderr
    assert RunDir(stopped).status()["state"] == "finished"
    assert_same_run(single, stopped)


def _sigterm_rank0_at_3(step: int) -> bool:
    """What the app's Stop does (SIGTERM to the pid in status.json, rank 0's), after step 3: rank 1 gets no signal;
    the ranks agree on stopping at the next multiple of log_every (2), step 4."""
    if step == 3 and os.environ["RANK"] == "0":
        os.kill(os.getpid(), signal.SIGTERM)
    return False


def _worker(run: str, env: dict) -> None:
    os.environ.update(env)
    torch.set_num_threads(1)
    train(RunDir(run).graph_path, RunDir(run).config_dict(), run, should_stop=_sigterm_rank0_at_3)


def test_outside_torchrun_the_trainer_is_the_single_process_one(monkeypatch, tmp_path):
    from engine.train.loop import Run

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.runner(Run) is Run and not distributed.needs_launch(1) and distributed.needs_launch(2)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert issubclass(distributed.runner(Run), distributed.DistributedRun) and not distributed.needs_launch(2)
    other = distributed.run_dir(tmp_path / "run")  # rank 1 of 2: reads the run, writes only why it failed
    assert isinstance(other, distributed._Silent)
    other.path.mkdir()
    other.write_status("running", "training")
    other.save_best(torch.nn.Linear(1, 1), {})
    assert not RunDir(other.path).status_path.exists() and not RunDir(other.path).best_path.exists()
    other.write_status("failed", "ran out of GPU memory")
    assert RunDir(other.path).status()["message"] == "process 1 of 2: ran out of GPU memory"
    distributed.shutdown(other)
    assert not other.scratch.exists()


def test_nproc_needs_a_batch_of_at_least_one_example_per_process():
    problems = TrainConfig(batch_size=2, nproc=4).problems()
    assert any("batch_size must be at least nproc" in p for p in problems)
    assert any("nproc must be" in p for p in TrainConfig(nproc=0).problems())



def test_more_processes_than_gpus_fail_before_launching(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "device_count", lambda: 1)
    run = RunDir(prepare_run(NET, TrainConfig(**{**BASE, "device": "cuda"}, nproc=2), tmp_path, "too many"))
    assert distributed.launch(run, 2) == 2
    st = run.status()
    assert st["state"] == "failed" and "2 processes were asked for but torch sees 1 GPU(s)" in st["message"]
