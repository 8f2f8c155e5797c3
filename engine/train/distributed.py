"""Several processes, one run: the trainer under `torchrun` with DistributedDataParallel (DDP).

`python -m engine train G.json --nproc 2` (or TrainConfig.nproc > 1 from the Train page) prepares the run directory
as usual, then `launch` starts `python -m torch.distributed.run --standalone --nproc-per-node N -m engine train
--resume RUN_DIR`: N copies of the same trainer, one per GPU (or CPU processes with the gloo backend). Inside each
copy `runner(cls)` turns the task's Run class into a distributed one:

- batches: every rank draws the same epoch order (it depends on seed and epoch only) and trains its own share of
  each *global* batch of `batch_size` examples (`idx.tensor_split(world)[rank]`); each rank keeps the whole
  (resident) training set on its device and indexes its share, so no data moves between ranks. The gradients are
  summed with weights n_rank / n_batch (a DDP comm hook), which is exactly the mean over the global batch, so a run
  on N processes follows the single-process run at the same batch size up to float rounding (the 2-process test
  checks weights to 1e-5 and metrics to 1e-5 relative). A last batch smaller than N is dropped.
- randomness per example (dropout, augmentation) is drawn per rank: rank 0 keeps the single-process streams, rank r
  reseeds from (seed, r). A checkpoint keeps every rank's RNG state, so stop and resume stay exact; with dropout or
  augmentation the run is not the single-process run, only the same for the same N.
- writing: rank 0 alone writes the run directory (status, metrics, checkpoints, results). The other ranks get a
  `_Silent` RunDir that reads the run's files (to resume) but writes into a scratch folder; only a failure of
  theirs reaches status.json (torchrun then ends the other ranks).
- stop: a SIGTERM (the app's Stop goes to the pid in status.json, rank 0's) sets a flag; the ranks agree on it
  every `log_every` steps (one all-reduce where the loop already syncs), so all stop after the same step and rank 0
  writes the checkpoint.
- BatchNorm becomes SyncBatchNorm on GPUs (batch statistics over the global batch); on CPU (gloo) each rank
  normalises its own share.
"""
from __future__ import annotations

import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist

from engine.train.checks import TrainError
from engine.train.optim import make_scheduler
from engine.train.rundir import RunDir

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["device_count", "in_worker", "launch", "needs_launch", "rank", "run_dir", "runner", "shutdown", "world"]


def world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def in_worker() -> bool:
    """True inside a process that torchrun started (it sets RANK, WORLD_SIZE, MASTER_ADDR...)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and world() > 1


def needs_launch(nproc: int) -> bool:
    """A run with nproc > 1 started outside torchrun: it must be launched (`launch`), not trained here."""
    return nproc > 1 and not in_worker()


def device_count() -> int:
    """How many processes the Train page may offer: one per GPU."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def launch(run: RunDir, nproc: int) -> int:
    """Train the prepared run directory with `nproc` processes under torchrun; returns torchrun's exit code.

    A SIGTERM to this process is passed on to torchrun (which passes it to the workers: they checkpoint and stop).
    If the workers died without saying why (killed, a crash in one rank), the status says so."""
    device = run.config().device
    gpus = device_count()
    if (device == "cuda" or (device == "auto" and gpus)) and nproc > gpus:
        run.write_status("failed", f"{nproc} processes were asked for but torch sees {gpus} GPU(s): one process "
                                   f"trains on each GPU. Use at most {gpus}, or device cpu.", pid=os.getpid())
        return 2
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "engine", "train", "--resume", str(Path(run).resolve())]
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT))
    forward = lambda signum, frame: proc.send_signal(signum)
    in_main = __import__("threading").current_thread() is __import__("threading").main_thread()
    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)} if in_main else {}
    try:
        rc = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    st = run.status()
    if rc != 0 and st.get("state") in ("running", "queued", None):
        run.write_status("failed", f"the {nproc} training processes ended with exit code {rc} without a status; "
                                   f"the last checkpoint is kept. See {RunDir.LOG}.", pid=os.getpid())
    return rc


class _Silent(RunDir):
    """The run directory as ranks other than 0 see it: they read the run's own files (graph, config, the last
    checkpoint to resume from) and write nothing there; their metrics and TensorBoard go to a scratch folder."""

    def __init__(self, path, scratch: Path):
        super().__init__(path)
        self.scratch = scratch

    metrics_path = property(lambda self: self.scratch / self.METRICS)
    tb_path = property(lambda self: self.scratch / self.TB)
    diagnostics_path = property(lambda self: self.scratch / self.DIAGNOSTICS)

    def write_status(self, state, message="", **extra):
        if state == "failed":  # the one thing another rank must say: why it failed (rank 0 then waits in vain)
            return super().write_status(state, f"process {rank()} of {world()}: {message}", **extra)
        return {"state": state, "message": message, **extra}

    def write_graph(self, g) -> None:
        pass

    def write_config(self, cfg) -> None:
        pass

    def ensure_meta(self, name) -> None:
        pass

    def save_best(self, model, info) -> None:
        pass

    def save_last(self, model, state) -> None:
        pass

    def write_results(self, res, arrays) -> None:
        pass


def run_dir(path) -> RunDir:
    """The RunDir this process trains into: the real one on rank 0 (and outside torchrun), a _Silent one else."""
    if not in_worker() or rank() == 0:
        return RunDir(path)
    return _Silent(path, Path(tempfile.mkdtemp(prefix=f"convas-rank{rank()}-")))


def shutdown(rd: RunDir | None = None) -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    if isinstance(rd, _Silent):
        shutil.rmtree(rd.scratch, ignore_errors=True)


class _Weight:
    """The comm hook's state: this rank's share of the global batch (n_rank / n_batch)."""

    def __init__(self):
        self.weight = 1.0 / max(world(), 1)


def _weighted_sum(state: _Weight, bucket):
    """Σ_r (n_r / n) · grad_r: the gradient of the mean loss over the whole global batch (DDP's default hook
    averages, which is the same only when every rank has the same number of examples)."""
    buf = bucket.buffer()
    buf.mul_(state.weight)
    return dist.all_reduce(buf, async_op=True).get_future().then(lambda fut: fut.value()[0])


class _AgreedStop:
    """The loop's stop check, agreed between ranks: the `should_stop(step)` hook is a function of the step (the
    same answer everywhere); the signal flag is all-reduced every `every` steps so all ranks stop together."""

    def __init__(self, stop, every: int, device: torch.device):
        self.inner, self.every, self.device = stop, every, device

    def __call__(self, step: int) -> bool:
        if self.inner.hook is not None and self.inner.hook(step):
            return True
        if step % self.every:
            return False
        flag = torch.tensor([1.0 if self.inner.flag else 0.0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


def _rng_state(run) -> dict:
    return {"cpu": torch.get_rng_state(), "gen": run.gen.get_state(),
            "cuda": torch.cuda.get_rng_state(run.device) if run.device.type == "cuda" else None}


class DistributedRun:
    """Mixed in before a task's Run class (see `runner`): the hooks that make N processes train one run."""

    def setup(self) -> None:
        cfg = self.cfg
        if cfg.batch_size < world():
            raise TrainError(f"batch_size {cfg.batch_size} is smaller than the {world()} processes: each needs at "
                             f"least one example per step. Use a batch size of at least {world()}.")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
        if use_cuda:
            if local >= torch.cuda.device_count():
                raise TrainError(f"{world()} processes were asked for but torch sees {torch.cuda.device_count()} "
                                 f"GPU(s). Use at most {torch.cuda.device_count()} processes.")
            torch.cuda.set_device(local)  # "cuda" now means this rank's GPU
        if not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=10))
        super().setup()
        r, dev = rank(), self.device
        rem = len(self.data.x_train) % cfg.batch_size
        if 1 < rem < world() and self.spe > 1:  # a last batch too small to give every rank an example: dropped
            self.spe -= 1
            self.planned = min(cfg.epochs * self.spe, cfg.max_steps or cfg.epochs * self.spe)
            self.sched = make_scheduler(self.opt, cfg.schedule, self.planned)
        if r:  # rank 0 keeps the single-process streams; the others draw their own dropout and augmentation
            torch.manual_seed(cfg.seed * 1_000_003 + r)
            self.gen.manual_seed(cfg.seed * 1_000_003 + r)
        if dev.type == "cuda":
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.ddp = torch.nn.parallel.DistributedDataParallel(
            self.model, device_ids=[dev.index if dev.index is not None else local] if dev.type == "cuda" else None)
        self.share = _Weight()
        self.ddp.register_comm_hook(self.share, _weighted_sum)
        self.stop = _AgreedStop(self.stop, cfg.log_every, dev)

    def restore(self) -> int | None:
        step = super().restore()
        if step is not None:
            ranks = self.dir.load_last_state()[1].get("ranks")
            if ranks and len(ranks) == world():
                mine = ranks[rank()]
                torch.set_rng_state(mine["cpu"])
                self.gen.set_state(mine["gen"])
                if self.device.type == "cuda" and mine.get("cuda") is not None:
                    torch.cuda.set_rng_state(mine["cuda"], self.device)
        return step

    def checkpoint(self) -> None:
        states = [None] * world()
        dist.all_gather_object(states, _rng_state(self))
        save_last = self.dir.save_last

        def with_ranks(model, state):
            save_last(model, {**state, "ranks": states})

        self.dir.save_last = with_ranks
        try:
            super().checkpoint()
        finally:
            del self.dir.save_last
        dist.barrier()  # the checkpoint is on disk before any rank goes on (or exits)

    def train_step(self, idx: torch.Tensor) -> None:
        mine = idx.tensor_split(world())[rank()]
        self.share.weight = len(mine) / len(idx)
        model, self.model = self.model, self.ddp  # the task's own train_step, with the DDP forward (and backward)
        try:
            super().train_step(mine)
        finally:
            self.model = model

    def log_window(self, val: dict | None = None) -> None:
        """Sum the window over the ranks (every rank calls this at the same steps), then log it as one."""
        w = self.w
        sums = torch.stack([w[0].double(), w[1].double(), torch.tensor(float(w[2]), device=self.device).double(),
                            torch.tensor(float(w[3]), device=self.device).double()])
        dist.all_reduce(sums)
        bad = self.bad_step.clone()
        dist.all_reduce(bad, op=dist.ReduceOp.MAX)
        w[0], w[1] = sums[0].to(w[0].dtype), sums[1].to(w[1].dtype)
        w[2], w[3] = int(sums[2].item()), int(sums[3].item())
        self.bad_step = bad
        super().log_window(val)

    def finish(self) -> None:
        if rank() == 0:  # the results are rank 0's alone; the others have nothing left to do
            super().finish()


def runner(cls: type) -> type:
    """The Run class this process uses: `cls` itself, or outside torchrun; under torchrun, cls with the DDP hooks."""
    if not in_worker():
        return cls
    return type(f"Distributed{cls.__name__}", (DistributedRun, cls), {})
