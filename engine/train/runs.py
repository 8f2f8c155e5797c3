"""Runs seen from the app: create, start, stop and resume trainer processes, list the runs, load what one trained.

A run is started as a detached `python -m engine train --resume <run_dir>` subprocess in its own session, so it
survives a Streamlit rerun or a page reload and cannot take the app down; its stdout and stderr go to the run's
log (RunDir.log_path). What a run's files say is read through engine.train.rundir.RunDir.

Given a queue folder (engine.train.queue), start_run puts the run in that queue instead, and the trainer starts when
a slot is free; stop and resume follow the queue the run's status names, and the trainer frees its slot as it ends
(release).
"""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from engine.data import BUILTIN
from engine.filenames import safe_filename
from engine.graph import Graph, load_graph
from engine.train.config import TrainConfig
from engine.train.queue import Limits, Queue, default_limits
from engine.train.rundir import RunDir
from engine.train.store import load_weights_into

ROOT = Path(__file__).resolve().parents[2]


def new_run_dir(root: str | os.PathLike, name: str) -> Path:
    """A fresh, empty run directory root/<YYYYmmdd-HHMMSS>-<name> (suffixed -2, -3... if taken)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{safe_filename(name, 'run', sep='-', max_len=40).lower()}"
    for i in range(1, 1000):
        d = root / (base if i == 1 else f"{base}-{i}")
        try:
            d.mkdir()
        except FileExistsError:
            continue
        RunDir(d).ensure_meta(name)
        return d
    raise RuntimeError(f"cannot create a run directory under {root}: 999 runs named {base} exist.")


def prepare_run(graph, config: TrainConfig | dict, root: str | os.PathLike, name: str | None = None) -> Path:
    """A new run directory holding the graph, the config and status "queued".

    A dict config is parsed and validated here; a TrainConfig comes validated (the Train form and the command line
    check it once, where they can show every problem) and is not checked again."""
    g = load_graph(graph)
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    # the trainer runs in another working directory: paths in the config become absolute here
    changes = {}
    if cfg.data_root:
        changes["data_root"] = str(Path(cfg.data_root).expanduser().resolve())
    if cfg.data not in BUILTIN and Path(cfg.data).expanduser().exists():
        changes["data"] = str(Path(cfg.data).expanduser().resolve())
    cfg = dataclasses.replace(cfg, **changes)  # a copy: the caller's config is left as it was
    run = RunDir(new_run_dir(root, name or g.name))
    run.write_graph(g)
    run.write_config(cfg)
    run.write_status("queued", "waiting for the trainer process to start", pid=None, step=0, epoch=0,
                     total_steps=None, data=cfg.data)
    return run.path


def _spawn(run: RunDir, slot: int | None = None) -> int:
    """Start the trainer on the run, detached (own session): it outlives the app's script run. A queue `slot` on a
    machine with several GPUs pins the trainer to GPU `slot` (one training per GPU)."""
    env = dict(os.environ)
    if slot is not None and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        env["CUDA_VISIBLE_DEVICES"] = str(slot % torch.cuda.device_count())
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("PYTHONUNBUFFERED", "1")
    with open(run.log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "train", "--resume", str(run.path.resolve())],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(ROOT),
                                env=env, start_new_session=True, close_fds=True)
    return proc.pid


def _spawn_path(path: Path, slot: int) -> int:
    return _spawn(RunDir(path), slot)


def pump_queue(queue: str | os.PathLike, limits: Limits | None = None) -> list[Path]:
    """Start the queue's waiting runs that fit (engine.train.queue.Queue.pump); the app calls this on its refreshes
    with the server's limits (default_limits() when None), which the queue keeps for the trainers' own calls."""
    return Queue(queue).pump(_spawn_path, limits or default_limits())


def release(run_dir: str | os.PathLike) -> list[Path]:
    """The trainer of a queued run, as it ends: free its slot and start the next waiting runs."""
    q = RunDir(run_dir).status().get("queue")
    return Queue(q).pump(_spawn_path, done=run_dir) if q else []


def start_run(graph, config: TrainConfig | dict, root: str | os.PathLike, name: str | None = None, *,
              queue: str | os.PathLike | None = None, owner: str = "") -> Path:
    """Prepare a run directory and start training it in a detached subprocess; returns the directory at once.
    With a `queue` folder the run waits there for a slot (`owner`: the workspace it counts against)."""
    run = RunDir(prepare_run(graph, config, root, name))
    if queue is not None:
        Queue(queue).submit(run.path, owner)
        pump_queue(queue)
        return run.path
    pid = _spawn(run)
    run.write_status("queued", "starting the trainer process", pid=pid)
    return run.path


def override_lr(run_dir: str | os.PathLike, lr: float) -> TrainConfig:
    """The one setting a resume may change: the learning rate (the schedule keeps its shape; the trainer rescales
    it on restore), e.g. to get past a loss that became NaN. Validated, then written; returns the new config."""
    run = RunDir(run_dir)
    cfg = dataclasses.replace(run.config(), lr=lr)
    cfg.validate()
    run.write_config(cfg)
    return cfg


def resume_run(run_dir: str | os.PathLike, lr: float | None = None) -> Path:
    """Continue a stopped or failed run from its last checkpoint in a new detached subprocess; `lr`: see
    override_lr."""
    run = RunDir(run_dir)
    if run.is_alive():
        raise RuntimeError(f"the run {run.id} is still running (pid {run.status().get('pid')}).")
    problem = run.problem()
    if problem:
        raise FileNotFoundError(problem)
    if lr is not None:
        override_lr(run, lr)
    status = run.status()
    if status.get("queue"):  # it came through a queue: it waits its turn again
        Queue(status["queue"]).submit(run.path, status.get("owner") or "")
        pump_queue(status["queue"])
        return run.path
    pid = _spawn(run)
    run.write_status("queued", "resuming from the last checkpoint", pid=pid)
    return run.path


def stop_run(run_dir: str | os.PathLike) -> bool:
    """Ask the trainer to stop (SIGTERM): it finishes its step, checkpoints and sets status "stopped".
    False when no live trainer process belongs to the run."""
    run = RunDir(run_dir)
    status = run.status()
    if status.get("state") == "queued" and status.get("waiting") and status.get("queue"):
        if Queue(status["queue"]).cancel(run.path):  # no process yet: it leaves the queue
            return True
        # admitted meanwhile: its trainer is stopped below
    if run.status().get("state") not in ("queued", "running") or not run.is_alive():
        return False  # nothing training: a finished run's pid may be a process that only hosted it
    try:
        os.kill(int(run.status().get("pid")), signal.SIGTERM)
    except (ProcessLookupError, TypeError, ValueError):
        return False
    return True


def list_runs(root: str | os.PathLike) -> list[dict]:
    """Every run under root, newest first: id, name, status, created, best val acc (the headline number) and its
    name (best_metric, engine.train.headline) or a language model's best_val_ppl, dataset, path."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        run = RunDir(d)
        if not d.is_dir() or not run.is_run():
            continue
        meta, cfg, st = run.meta(), run.config_dict() or {}, run.status()
        out.append({"id": run.id, "name": meta.get("name", run.id), "status": st.get("state"),
                    "message": st.get("message", ""), "created": meta.get("created") or d.stat().st_mtime,
                    "best_val_acc": st.get("best_val_acc"), "best_metric": st.get("best_metric"),
                    "best_val_ppl": st.get("best_val_ppl"), "dataset": cfg.get("data"), "epochs": cfg.get("epochs"),
                    "step": st.get("step"), "total_steps": st.get("total_steps"), "path": str(d)})
    out.sort(key=lambda r: r["created"], reverse=True)
    return out


def load_trained(run_dir: str | os.PathLike, which: str = "best") -> tuple[Graph, torch.nn.Module]:
    """The run's graph and its module with the best (or last) weights, in eval mode, on the CPU.
    Raises FileNotFoundError without a checkpoint and CheckpointMismatch (listing the layers) if it does not fit."""
    from engine.codegen import build_module

    run = RunDir(run_dir)
    g = run.graph()
    path = run.weights(which)
    if path is None:
        raise FileNotFoundError(f"{run.id} has no checkpoint yet: train it for at least one epoch (or stop "
                                f"it, which writes one).")
    model = build_module(g)
    load_weights_into(model, path)
    return g, model.eval()
