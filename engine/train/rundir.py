"""RunDir: a run directory, the one place that knows its file names; every read and write of a run goes through it.

    graph.json       the design the run trains
    config.json      its TrainConfig (asdict)
    run.json         {name, created}: what the runs list shows
    status.json      {state, message, pid, pid_start, epoch, step, total_steps, best_val_acc, data, updated};
                     a run started through a queue (engine.train.queue) also has queue, owner and waiting
    metrics.jsonl    one line per logged step and per epoch, appended and flushed (engine.train.log)
    diagnostics.jsonl  per-layer diagnostics every diag_every steps, one line per recorded step
                     (engine.train.diagnostics), appended and flushed
    log.txt          the trainer process's stdout and stderr
    tb/              TensorBoard events
    checkpoints/     best.safetensors, and the last checkpoint: last-<step>.safetensors + last-<step>.pt, named by
                     the pointer last.json (replaced last, so a reader always finds a matching pair); the pointer
                     also names the checkpoint before it, kept until the next step's loss shows the last is good
    results.json     the end-of-run evaluation; results.npz holds its example images
    vocab.txt        language models: the vocabulary, one word a line, line i = token id i

Every file is written atomically (engine.atomic), so a reader may look at any moment: while the trainer runs, or
after it was killed. Readers return None / {} / [] for what is not there yet; graph() and config() raise, naming
the file, because nothing can go on without them.
"""
from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.atomic import atomic_write_bytes
from engine.graph import Graph, load_graph, save_graph
from engine.safeload import torch_load
from engine.train.config import TrainConfig
from engine.train.log import parse_lines
from engine.train.store import (
    atomic_write_json,
    process_start,
    read_header_metadata,
    read_json,
    read_weights,
    weights_bytes,
)

ACTIVE = ("queued", "running")  # the states in which the run's trainer process should be alive
WHICH = ("best", "last")  # the checkpoints a run keeps


@dataclass
class MetricsTail:
    """The metrics of a run read so far (RunDir.follow_metrics): the rows, the byte offset they end at, and which
    file that offset is in."""

    rows: list[dict] = field(default_factory=list)
    offset: int = 0
    file_id: tuple[int, int] | None = None  # (device, inode) of the metrics file the offset belongs to


class RunDir:
    """A run directory. `RunDir(path)`; it is also a path-like (os.fspath), so path APIs take it as it is."""

    GRAPH = "graph.json"
    CONFIG = "config.json"
    META = "run.json"
    STATUS = "status.json"
    METRICS = "metrics.jsonl"
    LOG = "log.txt"
    TB = "tb"
    RESULTS = "results.json"
    EXAMPLES = "results.npz"
    CHECKPOINTS = "checkpoints"
    LAST = "last.json"  # inside CHECKPOINTS
    BEST = "best.safetensors"  # inside CHECKPOINTS
    LAST_PREFIX = "last-"  # inside CHECKPOINTS: last-<step>.safetensors and last-<step>.pt
    VOCAB = "vocab.txt"
    DIAGNOSTICS = "diagnostics.jsonl"
    NAMES = (GRAPH, CONFIG, META, STATUS, METRICS, LOG, TB, RESULTS, EXAMPLES, CHECKPOINTS, LAST, BEST, VOCAB,
             DIAGNOSTICS)

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __repr__(self) -> str:
        return f"RunDir({os.fspath(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def id(self) -> str:
        return self.path.name

    # ---- the paths the trainer writes ------------------------------------------------------------------------
    graph_path = property(lambda self: self.path / self.GRAPH)
    config_path = property(lambda self: self.path / self.CONFIG)
    meta_path = property(lambda self: self.path / self.META)
    status_path = property(lambda self: self.path / self.STATUS)
    metrics_path = property(lambda self: self.path / self.METRICS)
    log_path = property(lambda self: self.path / self.LOG)
    tb_path = property(lambda self: self.path / self.TB)
    results_path = property(lambda self: self.path / self.RESULTS)
    examples_path = property(lambda self: self.path / self.EXAMPLES)
    vocab_path = property(lambda self: self.path / self.VOCAB)
    diagnostics_path = property(lambda self: self.path / self.DIAGNOSTICS)
    checkpoints = property(lambda self: self.path / self.CHECKPOINTS)
    best_path = property(lambda self: self.checkpoints / self.BEST)

    def is_run(self) -> bool:
        """A directory the trainer (or prepare_run) made, not any folder that happens to sit under the runs root."""
        return self.status_path.exists() or self.config_path.exists()

    def problem(self) -> str | None:
        """Why this directory cannot be trained or resumed (its graph or config is missing), or None."""
        missing = [name for name, p in ((self.GRAPH, self.graph_path), (self.CONFIG, self.config_path))
                   if not p.is_file()]
        if not missing:
            return None
        return f"{self.path} is not a run directory: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} " \
               f"missing."

    # ---- what the run is ---------------------------------------------------------------------------------------
    def graph(self) -> Graph:
        """The run's graph (GraphError naming the file when it is missing or broken)."""
        return load_graph(self.graph_path)

    def write_graph(self, g: Graph) -> None:
        save_graph(g, self.graph_path)

    def config(self) -> TrainConfig:
        """The run's settings, validated: FileNotFoundError without config.json, ValueError naming a bad option."""
        d = read_json(self.config_path)
        if not isinstance(d, dict):
            raise FileNotFoundError(f"{self.path.name} has no readable {self.CONFIG}.")
        return TrainConfig.from_dict(d)

    def config_dict(self) -> dict[str, Any] | None:
        """config.json as it is on disk (not validated), or None: for lists that show a run's data and epochs."""
        d = read_json(self.config_path)
        return d if isinstance(d, dict) else None

    def write_config(self, cfg: TrainConfig) -> None:
        atomic_write_json(self.config_path, cfg.to_dict())

    def write_vocab(self, words: list[str]) -> None:
        atomic_write_bytes(self.vocab_path, ("\n".join(words) + "\n").encode("utf-8"))

    def vocab(self) -> list[str] | None:
        """A language model's vocabulary (token id -> word), or None for other runs."""
        try:
            return self.vocab_path.read_text(encoding="utf-8").split("\n")[:-1]
        except (OSError, UnicodeDecodeError):
            return None

    def meta(self) -> dict[str, Any]:
        """run.json: {name, created}; {} when absent."""
        return read_json(self.meta_path, {}) or {}

    def ensure_meta(self, name: str) -> None:
        """Write run.json once: a resumed run keeps its first name and creation time."""
        if not self.meta_path.exists():
            atomic_write_json(self.meta_path, {"name": name, "created": time.time()})

    # ---- status ------------------------------------------------------------------------------------------------
    def write_status(self, state: str, message: str = "", **extra: Any) -> dict:
        """status.json merged over the previous one; a `pid` also records when that process started."""
        status = read_json(self.status_path, {}) or {}
        status.update(extra)
        if "pid" in extra:
            status["pid_start"] = process_start(extra["pid"]) if extra["pid"] else None
        status.update(state=state, message=message, updated=time.time())
        atomic_write_json(self.status_path, status, durable=False)  # rewritten every log line: speed over fsync
        return status

    def is_alive(self) -> bool:
        """True while the run's trainer process (the pid in status.json, started when status.json says) exists."""
        status = read_json(self.status_path, {}) or {}
        pid = status.get("pid")
        return pid_alive(pid, status.get("pid_start"))

    def status(self) -> dict[str, Any]:
        """status.json; a queued/running run whose process is gone reads "failed" (reading changes no file)."""
        status = read_json(self.status_path)
        if not status:
            return {"state": "failed", "message": f"{self.path.name} has no readable {self.STATUS}.", "pid": None,
                    "epoch": 0, "step": 0, "total_steps": None, "updated": None}
        if status.get("state") not in ACTIVE or self.is_alive():
            return status
        if status.get("state") == "queued" and status.get("waiting"):
            return status  # in a run queue (engine.train.queue): no process until a slot is free
        again = read_json(self.status_path, status)  # it may have finished between the two reads
        if again.get("state") not in ACTIVE:
            return again
        tail = self.log_tail()
        resumable = " The last checkpoint is kept: resume to continue." if self.has_checkpoint() else ""
        what = f"process exited (pid {again['pid']})" if again.get("pid") else "the trainer process never started"
        return {**again, "state": "failed",
                "message": f"failed: {what} while the status said '{again.get('state')}'.{resumable}"
                           + (f" Last log line: {tail}" if tail else "")}

    def log_tail(self, max_bytes: int = 2000) -> str:
        """The last non-empty line of log.txt (at most 300 characters), or ""."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - max_bytes))
                lines = [ln for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return lines[-1].strip()[:300] if lines else ""

    # ---- metrics -----------------------------------------------------------------------------------------------
    def metrics(self, offset: int = 0) -> tuple[list[dict], int]:
        """New complete lines of metrics.jsonl from byte `offset` -> (rows, new offset). A partial last line is
        left for the next call. If the file shrank (a resume dropped lines after its checkpoint) it reads from 0."""
        try:
            size = self.metrics_path.stat().st_size
            if offset > size:
                offset = 0
            if offset == size:
                return [], offset
            with open(self.metrics_path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except OSError:
            return [], offset
        end = chunk.rfind(b"\n") + 1  # only through the last complete line
        return parse_lines(chunk[:end].decode("utf-8", "replace")), offset + end

    def follow_metrics(self, tail: MetricsTail) -> MetricsTail:
        """Bring `tail` up to date, reading only what was appended since. A resume (or a restart) replaces the
        file with the lines it keeps: a new file is read again from its start, so the history is always the file's.
        """
        try:
            s = self.metrics_path.stat()
        except OSError:
            return tail
        file_id = (s.st_dev, s.st_ino)  # an atomic rewrite is a new inode, even when it grew past the old offset
        if file_id != tail.file_id or s.st_size < tail.offset:
            tail.rows, tail.offset, tail.file_id = [], 0, file_id
        new, tail.offset = self.metrics(tail.offset)
        tail.rows.extend(new)
        return tail

    def diagnostics(self, offset: int = 0) -> tuple[list[dict], int]:
        """New complete lines of the diagnostics file from byte `offset` -> (rows, new offset), as metrics()."""
        try:
            size = self.diagnostics_path.stat().st_size
            if offset > size:
                offset = 0
            if offset == size:
                return [], offset
            with open(self.diagnostics_path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except OSError:
            return [], offset
        end = chunk.rfind(b"\n") + 1
        return parse_lines(chunk[:end].decode("utf-8", "replace")), offset + end

    # ---- checkpoints -------------------------------------------------------------------------------------------
    def last_checkpoint(self) -> dict[str, Any] | None:
        """The pointer to the last checkpoint: {weights, state, step, epoch, updated}, or None."""
        ptr = read_json(self.checkpoints / self.LAST)
        return ptr if isinstance(ptr, dict) else None

    def has_checkpoint(self) -> bool:
        """A last checkpoint exists, so the run can be resumed."""
        return self.last_checkpoint() is not None

    def weights(self, which: str = "best") -> Path | None:
        """The weights file of the best or last checkpoint (best falls back to last), or None when there is none."""
        if which not in WHICH:
            raise ValueError(f"which must be 'best' or 'last'. Received: which={which!r}.")
        if which == "best" and self.best_path.is_file():
            return self.best_path
        ptr = self.last_checkpoint()
        if ptr and (self.checkpoints / ptr["weights"]).is_file():
            return self.checkpoints / ptr["weights"]
        return None

    def save_best(self, model: torch.nn.Module, info: dict[str, Any]) -> None:
        atomic_write_bytes(self.best_path, weights_bytes(model, info))

    def save_last(self, model: torch.nn.Module, state: dict[str, Any]) -> None:
        """Weights and state under step-tagged names, then the pointer, then the files it no longer names: a
        reader (or a resume after kill -9) always finds a matching pair."""
        step = int(state["step"])
        names = {"weights": f"{self.LAST_PREFIX}{step}.safetensors", "state": f"{self.LAST_PREFIX}{step}.pt"}
        prev = self.last_checkpoint()
        if prev and prev.get("step") == step:  # rewritten at the same step: the one before it stays the previous
            prev = prev.get("previous")
        previous = _pair(prev) if prev and self._has_files(prev) else None
        atomic_write_bytes(self.checkpoints / names["weights"],
                           weights_bytes(model, {"step": step, "epoch": state.get("epoch")}))
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(self.checkpoints / names["state"], buf.getvalue())
        atomic_write_json(self.checkpoints / self.LAST, {**names, "step": step, "epoch": state.get("epoch"),
                                                         "updated": time.time(), "previous": previous})
        keep = set(names.values()) | ({previous["weights"], previous["state"]} if previous else set())
        for f in self.checkpoints.glob(self.LAST_PREFIX + "*"):
            if f.name not in keep:
                f.unlink(missing_ok=True)

    def _has_files(self, ptr: dict[str, Any]) -> bool:
        return all(isinstance(ptr.get(k), str) and (self.checkpoints / ptr[k]).is_file() for k in ("weights", "state"))

    def drop_poisoned(self, bad_step: int) -> dict[str, Any] | None:
        """The loss of step `bad_step` was NaN or infinite. It was computed with the weights after update
        bad_step - 1, so a checkpoint written at that step (or later) holds weights that already diverged: go back
        to the checkpoint before it (save_last keeps it until the next one is proven good), or to none. A best
        checkpoint from those steps goes too. Returns the last checkpoint now kept (its pointer), or None."""
        ptr = self.last_checkpoint()
        if ptr and int(ptr.get("step", 0)) >= bad_step - 1:
            prev = ptr.get("previous")
            if isinstance(prev, dict) and self._has_files(prev) and int(prev.get("step", 0)) < bad_step - 1:
                atomic_write_json(self.checkpoints / self.LAST, {**_pair(prev), "updated": time.time(),
                                                                 "previous": None})
            else:
                (self.checkpoints / self.LAST).unlink(missing_ok=True)
            for k in ("weights", "state"):
                if isinstance(ptr.get(k), str):
                    (self.checkpoints / Path(ptr[k]).name).unlink(missing_ok=True)
            ptr = self.last_checkpoint()
        best = read_header_metadata(self.best_path)
        if isinstance(best.get("step"), int) and best["step"] >= bad_step - 1:
            self.best_path.unlink(missing_ok=True)
        return ptr

    def load_last_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """(weights, training state) of the last checkpoint, loaded with weights_only=True; None when none exists."""
        ptr = self.last_checkpoint()
        if not ptr:
            return None
        tensors, _ = read_weights(self.checkpoints / ptr["weights"])
        state = torch_load(self.checkpoints / ptr["state"])  # weights_only=True; NotACheckpoint if refused
        return tensors, state

    def stamp(self) -> str:
        """Changes whenever a checkpoint is written ("" before the first): a cache key for what loads the weights."""
        d = self.checkpoints
        return _stamp(d.iterdir() if d.is_dir() else ())

    # ---- results -----------------------------------------------------------------------------------------------
    def write_results(self, res: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """results.npz (the example images and labels), then results.json, which names it: a reader who finds
        results.json finds its examples."""
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(self.examples_path, buf.getvalue())
        atomic_write_json(self.results_path, {**res, "examples_file": self.EXAMPLES})

    def results(self, examples: bool = True) -> dict[str, Any] | None:
        """results.json, or None before the end; with `examples` the example images are attached (uint8 arrays
        C×H×W; masks H×W).

        Classification: confusion, per_class_accuracy, misclassified [{index, true, pred, confidence, image}].
        Segmentation: confusion, iou, miou, examples [{index, pixel_error, image, true_mask, pred_mask}].
        Localisation / detection: examples [{index, image, true (class, x1, y1, x2, y2 rows), pred (class, score,
        x1, y1, x2, y2 rows)}] and the task's metrics (engine/train/tasks)."""
        res = read_json(self.results_path)
        if not isinstance(res, dict) or not examples:
            return res if isinstance(res, dict) else None
        try:
            with np.load(self.examples_path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError):
            arrays = {}
        if "images" in arrays:
            if res.get("task") == "segmentation":
                for e in res.get("examples", []):
                    r = e["row"]
                    e.update(image=arrays["images"][r], true_mask=arrays["true"][r], pred_mask=arrays["pred"][r])
            elif res.get("task") in ("localisation", "detection"):  # the boxes are in results.json
                for e in res.get("examples", []):
                    e["image"] = arrays["images"][e["row"]]
            else:
                for e in res.get("misclassified", []):
                    e["image"] = arrays["images"][e["row"]]
        return res

    def results_stamp(self) -> str:
        """Changes whenever the results are written ("" before): a cache key for results()."""
        return _stamp((self.results_path, self.examples_path))


def _pair(ptr: dict[str, Any]) -> dict[str, Any]:
    """The part of a last-checkpoint pointer that names one checkpoint (not its own previous)."""
    return {k: ptr.get(k) for k in ("weights", "state", "step", "epoch")}


def _stamp(paths: Iterable[Path]) -> str:
    """A short hash of the names, inodes, sizes and modification times of the files (atomic writes make a new
    inode each time, so a rewrite within one tick of a coarse clock still changes it); "" when there are none."""
    h, n = hashlib.sha1(), 0
    for p in sorted(paths):
        if p.name.startswith("."):  # an atomic write's temporary file: not a checkpoint yet
            continue
        try:
            s = p.stat()
        except OSError:
            continue
        h.update(f"{p.name}:{s.st_ino}:{s.st_size}:{s.st_mtime_ns};".encode())
        n += 1
    return h.hexdigest()[:16] if n else ""


def pid_alive(pid: object, started: int | None = None) -> bool:
    """The process `pid` exists and runs (not a zombie); with `started`, it is still the process that started
    then (engine.train.store.process_start), not a later one that got the same pid."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
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
