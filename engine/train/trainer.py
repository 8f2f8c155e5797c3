"""Train a graph: `train(graph, config, run_dir) -> run_dir`, writing everything a page needs into the run;
`resume(run_dir)` continues it. The loop itself is engine.train.loop.Run (or a task's subclass of it, chosen by
engine.train.tasks.runner_for); this module turns every outcome into a readable status.json.
"""
from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import torch

from engine.data import DataError
from engine.errors import GraphError
from engine.graph import load_graph
from engine.safeload import NotACheckpoint
from engine.train import distributed, fast
from engine.train.checks import TrainError, oom_message
from engine.train.config import TrainConfig
from engine.train.fingerprint import DesignChanged
from engine.train.loop import Run, Stop, signals
from engine.train.rundir import RunDir
from engine.train.store import CheckpointMismatch
from engine.train.tasks import runner_for

__all__ = ["TrainConfig", "TrainError", "resume", "train"]


def _describe(e: BaseException, cfg: TrainConfig) -> str:
    cause = e
    while cause is not None and not isinstance(cause, torch.cuda.OutOfMemoryError):
        cause = cause.__cause__  # an OOM inside torch.compile (fast mode) arrives wrapped in a compiler error
    e = cause or e
    if isinstance(e, torch.cuda.OutOfMemoryError) or "can't allocate memory" in str(e):
        dev = torch.device("cuda" if isinstance(e, torch.cuda.OutOfMemoryError) else "cpu")
        return oom_message(cfg.batch_size, dev)
    if isinstance(e, (TrainError, DataError, CheckpointMismatch, GraphError, ValueError)):
        return str(e)
    return f"training crashed: {type(e).__name__}: {e}. The traceback is in {RunDir.LOG}."


def train(graph, config: TrainConfig | dict | None = None, run_dir: str | os.PathLike = "runs/run", *,
          should_stop: Callable[[int], bool] | None = None) -> Path:
    """Train `graph` (a Graph, dict, JSON or path) into run_dir and return it; continues from run_dir's last
    checkpoint when there is one. Never raises for a failed run: status.json says what happened."""
    rd = distributed.run_dir(run_dir)  # under torchrun, only rank 0 writes the run directory
    rd.path.mkdir(parents=True, exist_ok=True)
    rd.write_status("running", "starting", pid=os.getpid())
    stop = Stop(should_stop)
    run: Run | None = None
    cfg = TrainConfig()
    try:
        if isinstance(config, TrainConfig):
            cfg = config
            cfg.validate()  # built by hand, not parsed: this is its one check
        else:
            cfg = TrainConfig.from_dict(config or {})  # parses and validates
        g = load_graph(graph)
        rd.write_graph(g)
        rd.write_config(cfg)
        rd.ensure_meta(g.name)
        if distributed.needs_launch(cfg.nproc):  # N processes: torchrun trains this directory (and writes status)
            distributed.launch(rd, cfg.nproc)
            return rd.path
        with signals(stop):
            task_run = fast.runner(runner_for(g.task.kind if g.task else "classification"), cfg.fast)
            run = distributed.runner(task_run)(g, cfg, rd, stop)
            run.setup()
            outcome = run.run(run.restore())
            if outcome == "finished":
                run.finish()
    except BaseException as e:  # every failure ends as a readable status; KeyboardInterrupt included
        if not isinstance(e, (TrainError, DataError, CheckpointMismatch, GraphError, NotACheckpoint, DesignChanged)):
            traceback.print_exc()
        message = _describe(e, cfg)
        print(f"failed: {message}", file=sys.stderr, flush=True)
        rd.write_status("failed", message, pid=os.getpid())
        if isinstance(e, KeyboardInterrupt):
            raise
    finally:
        if run is not None and run.log is not None:
            run.log.close()
        distributed.shutdown(rd)
    return rd.path


def resume(run_dir: str | os.PathLike, *, should_stop: Callable[[int], bool] | None = None) -> Path:
    """Continue a run from its last checkpoint (or start it, if it never got one) with its own graph and config."""
    rd = RunDir(run_dir)
    problem = rd.problem()
    if problem:
        rd.write_status("failed", problem, pid=os.getpid())
        return rd.path
    # the raw dict: train() parses and validates it, so a bad config.json ends as a readable failed status
    return train(rd.graph_path, rd.config_dict() or {}, rd, should_stop=should_stop)
