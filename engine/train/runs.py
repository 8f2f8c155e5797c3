"""Run directories seen from the app: start, stop, resume, list, tail, and load what a run trained.

A run is started as a detached `python -m engine train --resume <run_dir>` subprocess in its own session, so it
survives a Streamlit rerun or a page reload and cannot take the app down; its stdout and stderr go to
`run_dir/log.txt`. Everything here reads files the trainer writes atomically, so it is safe at any moment.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.data import BUILTIN
from engine.graph import Graph, load_graph, save_graph
from engine.train.config import TrainConfig
from engine.train.log import parse_lines
from engine.train.store import (
    CKPT,
    atomic_write_json,
    load_weights_into,
    process_start,
    read_json,
    weights_path,
    write_status,
)

ROOT = Path(__file__).resolve().parents[2]
ACTIVE = ("queued", "running")


def _slug(name: str) -> str:
    s = re.sub(r"[^0-9a-zA-Z]+", "-", name).strip("-").lower()
    return s[:40] or "run"


def new_run_dir(root: str | os.PathLike, name: str) -> Path:
    """A fresh, empty run directory root/<YYYYmmdd-HHMMSS>-<name> (suffixed -2, -3... if taken)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(name)}"
    for i in range(1, 1000):
        d = root / (base if i == 1 else f"{base}-{i}")
        try:
            d.mkdir()
        except FileExistsError:
            continue
        atomic_write_json(d / "run.json", {"name": name, "created": time.time()})
        return d
    raise RuntimeError(f"cannot create a run directory under {root}: 999 runs named {base} exist.")


def prepare_run(graph, config: TrainConfig | dict, root: str | os.PathLike, name: str | None = None) -> Path:
    """A new run directory holding graph.json, config.json and status "queued"."""
    g = load_graph(graph)
    cfg = TrainConfig.from_dict(config.to_dict() if isinstance(config, TrainConfig) else config)
    # the trainer runs in another working directory: paths in the config become absolute here
    if cfg.data_root:
        cfg.data_root = str(Path(cfg.data_root).expanduser().resolve())
    if cfg.data not in BUILTIN and Path(cfg.data).expanduser().exists():
        cfg.data = str(Path(cfg.data).expanduser().resolve())
    run_dir = new_run_dir(root, name or g.name)
    save_graph(g, run_dir / "graph.json")
    atomic_write_json(run_dir / "config.json", cfg.to_dict())
    write_status(run_dir, "queued", "waiting for the trainer process to start", pid=None, step=0, epoch=0,
                 total_steps=None, data=cfg.data)
    return run_dir


def _spawn(run_dir: Path) -> int:
    """Start the trainer on run_dir, detached (own session): it outlives the app's script run."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("PYTHONUNBUFFERED", "1")
    with open(run_dir / "log.txt", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "train", "--resume", str(run_dir.resolve())],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(ROOT),
                                env=env, start_new_session=True, close_fds=True)
    return proc.pid


def start_run(graph, config: TrainConfig | dict, root: str | os.PathLike, name: str | None = None) -> Path:
    """Prepare a run directory and start training it in a detached subprocess; returns the directory at once."""
    run_dir = prepare_run(graph, config, root, name)
    pid = _spawn(run_dir)
    write_status(run_dir, "queued", "starting the trainer process", pid=pid)
    return run_dir


def resume_run(run_dir: str | os.PathLike, lr: float | None = None) -> Path:
    """Continue a stopped or failed run from its last checkpoint in a new detached subprocess. `lr` replaces the
    learning rate (the schedule keeps its shape), e.g. to get past a loss that became NaN."""
    run_dir = Path(run_dir)
    if is_alive(run_dir):
        raise RuntimeError(f"the run {run_dir.name} is still running (pid {read_json(run_dir / 'status.json')['pid']}).")
    if not (run_dir / "graph.json").is_file() or not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory: graph.json or config.json is missing.")
    if lr is not None:
        cfg = TrainConfig.from_dict(read_json(run_dir / "config.json"))
        cfg.lr = lr
        cfg.validate()
        atomic_write_json(run_dir / "config.json", cfg.to_dict())
    pid = _spawn(run_dir)
    write_status(run_dir, "queued", "resuming from the last checkpoint", pid=pid)
    return run_dir


def stop_run(run_dir: str | os.PathLike) -> bool:
    """Ask the trainer to stop (SIGTERM): it finishes its step, checkpoints and sets status "stopped".
    False when no live trainer process belongs to the run."""
    run_dir = Path(run_dir)
    if not is_alive(run_dir):
        return False
    pid = read_json(run_dir / "status.json", {}).get("pid")
    try:
        os.kill(int(pid), signal.SIGTERM)
    except (ProcessLookupError, TypeError, ValueError):
        return False
    return True


def _pid_alive(pid: int, started: int | None = None) -> bool:
    try:  # reap it if it is our own finished child (a zombie still answers kill 0)
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    except OSError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # Linux: a zombie (Z) or dead (X) process is not running anything
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return False
        if started is not None and process_start(pid) not in (None, started):
            return False  # the pid now belongs to another process: ours is long gone
    return True


def is_alive(run_dir: str | os.PathLike) -> bool:
    """True while the run's trainer process (the pid in status.json) exists."""
    status = read_json(Path(run_dir) / "status.json", {}) or {}
    pid = status.get("pid")
    return isinstance(pid, int) and pid > 0 and _pid_alive(pid, status.get("pid_start"))


def read_status(run_dir: str | os.PathLike) -> dict[str, Any]:
    """status.json; a queued/running run whose process is gone is reported failed ("process exited")."""
    run_dir = Path(run_dir)
    status = read_json(run_dir / "status.json")
    if not status:
        return {"state": "failed", "message": f"{run_dir.name} has no readable status.json.", "pid": None,
                "epoch": 0, "step": 0, "total_steps": None, "updated": None}
    if status.get("state") in ACTIVE and not is_alive(run_dir):
        again = read_json(run_dir / "status.json", status)  # it may have finished between the two reads
        if again.get("state") in ACTIVE:
            tail = _log_tail(run_dir)
            resumable = " The last checkpoint is kept: resume to continue." if _has_last(run_dir) else ""
            what = (f"process exited (pid {again['pid']})" if again.get("pid") else "the trainer process never started")
            again = {**again, "state": "failed",
                     "message": f"failed: {what} while the status said '{again.get('state')}'.{resumable}"
                                + (f" Last log line: {tail}" if tail else "")}
        return again
    return status


def _has_last(run_dir: Path) -> bool:
    return read_json(run_dir / CKPT / "last.json") is not None


def _log_tail(run_dir: Path) -> str:
    try:
        with open(run_dir / "log.txt", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 2000))
            lines = [ln for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[-1].strip()[:300] if lines else ""
    except OSError:
        return ""


def read_metrics(run_dir: str | os.PathLike, offset: int = 0) -> tuple[list[dict], int]:
    """New complete lines of metrics.jsonl from byte `offset` -> (rows, new offset). A partial last line is
    left for the next call. If the file shrank (a resume dropped lines after its checkpoint) it reads from 0."""
    path = Path(run_dir) / "metrics.jsonl"
    try:
        size = path.stat().st_size
        if offset > size:
            offset = 0
        with open(path, "rb") as f:
            f.seek(offset)
            chunk = f.read()
    except OSError:
        return [], offset
    end = chunk.rfind(b"\n") + 1  # only through the last complete line
    return parse_lines(chunk[:end].decode("utf-8", "replace")), offset + end


def list_runs(root: str | os.PathLike) -> list[dict]:
    """Every run under root, newest first: id, name, status, created, best val acc, dataset, path."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        if not d.is_dir() or not ((d / "status.json").exists() or (d / "config.json").exists()):
            continue
        meta = read_json(d / "run.json", {}) or {}
        cfg = read_json(d / "config.json", {}) or {}
        st = read_status(d)
        created = meta.get("created") or d.stat().st_mtime
        out.append({"id": d.name, "name": meta.get("name", d.name), "status": st.get("state"),
                    "message": st.get("message", ""), "created": created,
                    "best_val_acc": st.get("best_val_acc"), "dataset": cfg.get("data"), "epochs": cfg.get("epochs"),
                    "step": st.get("step"), "total_steps": st.get("total_steps"), "path": str(d)})
    out.sort(key=lambda r: r["created"], reverse=True)
    return out


def load_trained(run_dir: str | os.PathLike, which: str = "best") -> tuple[Graph, torch.nn.Module]:
    """The run's graph and its module with the best (or last) weights, in eval mode, on the CPU.
    Raises FileNotFoundError without a checkpoint and CheckpointMismatch (listing the layers) if it does not fit."""
    from engine.codegen import build_module

    run_dir = Path(run_dir)
    g = load_graph(run_dir / "graph.json")
    path = weights_path(run_dir, which)
    if path is None:
        raise FileNotFoundError(f"{run_dir.name} has no checkpoint yet: train it for at least one epoch (or stop "
                                f"it, which writes one).")
    model = build_module(g)
    load_weights_into(model, path)
    return g, model.eval()


def read_results(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """results.json with the example images attached (uint8 arrays C×H×W; masks H×W), or None before the end.

    Classification: confusion, per_class_accuracy, misclassified [{index, true, pred, confidence, image}].
    Segmentation: confusion, iou, miou, examples [{index, pixel_error, image, true_mask, pred_mask}]."""
    run_dir = Path(run_dir)
    res = read_json(run_dir / "results.json")
    if res is None:
        return None
    try:
        with np.load(run_dir / res.get("examples_file", "results.npz"), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError):
        arrays = {}
    if "images" in arrays:
        if res.get("task") == "segmentation":
            for e in res.get("examples", []):
                r = e["row"]
                e.update(image=arrays["images"][r], true_mask=arrays["true"][r], pred_mask=arrays["pred"][r])
        else:
            for e in res.get("misclassified", []):
                e["image"] = arrays["images"][e["row"]]
    return res
