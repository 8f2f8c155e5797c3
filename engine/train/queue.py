"""The run queue of a server: at most `Limits.server` trainings at once, at most `Limits.per_workspace` of them
from one workspace, the rest waiting in a fair order; positions and an ETA for the waiting ones.

It is files, not a daemon: QUEUE_DIR/queue.json (written atomically, engine.atomic) changed under an flock on
QUEUE_DIR/.lock. A waiting run is only a record and a run directory whose status says "queued" — no process.
Admission is `pump()`, which anyone may call and which does the same whoever calls it:
- the app, when a run is started, stopped or resumed, and on every refresh of a page that shows a queued or running
  run;
- each trainer process, as it ends (engine.train.runs.release), so the next run starts at once with no page open.
pump() drops the records of trainers that are gone (finished, or killed -9: the pid, checked with its start time,
is no longer alive), then admits waiting runs while there are free slots. A server restart changes nothing: the
queue is on disk and the trainers are detached processes.

Fairness: among the waiting runs whose workspace is under its limit, the one whose workspace was served longest
ago goes first (a workspace never served goes before any other), then the oldest; so one person's ten runs do not
keep a class waiting.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_text
from engine.train.rundir import RunDir, pid_alive
from engine.train.store import process_start

QUEUE_FILE, LOCK_FILE = "queue.json", ".lock"
KEEP_DURATIONS = 20  # how many finished trainings the ETA averages over
ENV_SERVER, ENV_WORKSPACE = "CONVAS_MAX_TRAININGS", "CONVAS_MAX_TRAININGS_PER_WORKSPACE"


@dataclass(frozen=True)
class Limits:
    server: int  # trainings at once on this server
    per_workspace: int  # of those, at most this many from one workspace

    def __post_init__(self):
        for name, v in (("server", self.server), ("per_workspace", self.per_workspace)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"the queue's {name} limit must be a whole number of at least 1. Received: {v!r}.")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a whole number of at least 1 (trainings at once). Received: {raw!r}.")
    return value


def default_limits() -> Limits:
    """One training per GPU, or one per two CPU cores (at least 1); each workspace may use every slot.
    CONVAS_MAX_TRAININGS and CONVAS_MAX_TRAININGS_PER_WORKSPACE override them."""
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    server = _env_int(ENV_SERVER, gpus or max(1, (os.cpu_count() or 2) // 2))
    return Limits(server, min(server, _env_int(ENV_WORKSPACE, server)))


@dataclass(frozen=True)
class Place:
    """Where a waiting run stands: position 1 starts next; eta_s is the estimated wait (None: nothing to go by)."""

    position: int
    waiting: int
    eta_s: float | None


Spawn = Callable[[Path, int], int]  # (run dir, slot) -> pid of the trainer started on it


def _key(run_dir: str | os.PathLike) -> str:
    return str(Path(run_dir).resolve())


class Queue:
    """The queue in folder `path` (CONVAS_HOME/queue for the app)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).resolve()

    # ---- the file, under the lock ----------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The queue's state, for reading and changing; written back (atomically) when the block ends normally."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK_FILE, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = self._read()
                before = json.dumps(state, sort_keys=True)
                yield state
                if json.dumps(state, sort_keys=True) != before:
                    atomic_write_text(self.path / QUEUE_FILE, json.dumps(state, indent=1) + "\n")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            state = json.loads((self.path / QUEUE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = None
        if not isinstance(state, dict):
            state = {}
        state.setdefault("entries", [])  # [{run, workspace, enqueued, admitted, pid, pid_start, slot}]
        state.setdefault("served", {})  # workspace -> when it last had a run admitted
        state.setdefault("durations", [])  # seconds of the last finished trainings
        return state

    def snapshot(self) -> dict[str, Any]:
        """The state as on disk (no lock: the file is replaced atomically)."""
        return self._read()

    # ---- changes ---------------------------------------------------------------------------------------------
    def submit(self, run_dir: str | os.PathLike, workspace: str = "") -> None:
        """Put a prepared run at the end of the queue; its status says "queued" until a slot is free."""
        key = _key(run_dir)
        with self._locked() as state:
            state["entries"] = [e for e in state["entries"] if e["run"] != key]
            state["entries"].append({"run": key, "workspace": workspace, "enqueued": time.time(), "admitted": None,
                                     "pid": None, "pid_start": None, "slot": None})
            RunDir(key).write_status("queued", "waiting for a training slot", pid=None, waiting=True,
                                     queue=str(self.path), owner=workspace)

    def cancel(self, run_dir: str | os.PathLike) -> bool:
        """Take a waiting run out of the queue (status "stopped"); False when it is not waiting here."""
        key = _key(run_dir)
        with self._locked() as state:
            mine = [e for e in state["entries"] if e["run"] == key]
            if mine and mine[0]["admitted"] is not None:
                return False  # it has a trainer now: stop that (engine.train.runs.stop_run)
            status = RunDir(key).status()
            if not mine and not (status.get("state") == "queued" and status.get("waiting")):
                return False
            state["entries"] = [e for e in state["entries"] if e["run"] != key]
            RunDir(key).write_status("stopped", "stopped while queued: it had not started training.", waiting=False)
        return True

    def pump(self, spawn: Spawn, limits: Limits | None = None, done: str | os.PathLike | None = None) -> list[Path]:
        """Free the slots of trainers that are gone (and of `done`, the caller's own run as it ends), then start
        waiting runs while slots are free. Returns the run directories started."""
        started: list[Path] = []
        with self._locked() as state:
            if limits is not None:
                state["limits"] = {"server": limits.server, "per_workspace": limits.per_workspace}
            lim = limits or self._stored_limits(state)
            now = time.time()
            keep = []
            for e in state["entries"]:
                gone = e["admitted"] is not None and (
                    (done is not None and e["run"] == _key(done)) or not pid_alive(e["pid"], e["pid_start"]))
                if gone:
                    state["durations"] = (state["durations"] + [now - e["admitted"]])[-KEEP_DURATIONS:]
                elif e["admitted"] is None and RunDir(e["run"]).status().get("state") != "queued":
                    pass  # its run directory was deleted or changed by hand: nothing to start
                else:
                    keep.append(e)
            state["entries"] = keep
            while True:
                running = [e for e in keep if e["admitted"] is not None]
                if len(running) >= lim.server:
                    break
                nxt = next(iter(self._order(state, lim, eligible_only=True)), None)
                if nxt is None:
                    break
                slot = min(set(range(lim.server)) - {e["slot"] for e in running})
                run = RunDir(nxt["run"])
                pid = spawn(run.path, slot)
                nxt.update(admitted=time.time(), pid=pid, pid_start=process_start(pid), slot=slot)
                state["served"][nxt["workspace"]] = nxt["admitted"]
                if run.status().get("state") == "queued":  # unless the trainer was quicker to say "running"
                    run.write_status("queued", "starting the trainer process", pid=pid, waiting=False)
                started.append(run.path)
        return started

    @staticmethod
    def _stored_limits(state: dict[str, Any]) -> Limits:
        s = state.get("limits")
        try:
            return Limits(int(s["server"]), int(s["per_workspace"]))
        except (TypeError, KeyError, ValueError):
            return default_limits()

    # ---- reading ---------------------------------------------------------------------------------------------
    @staticmethod
    def _order(state: dict[str, Any], lim: Limits, eligible_only: bool = False) -> list[dict[str, Any]]:
        """The waiting entries in the order they will start: round robin over workspaces (the one served longest
        ago first), oldest first within one. With `eligible_only`, only those whose workspace is under its limit
        now (the head of that list is the next to start)."""
        running: dict[str, int] = {}
        for e in state["entries"]:
            if e["admitted"] is not None:
                running[e["workspace"]] = running.get(e["workspace"], 0) + 1
        served = dict(state["served"])
        waiting = sorted((e for e in state["entries"] if e["admitted"] is None), key=lambda e: e["enqueued"])
        if eligible_only:
            waiting = [e for e in waiting if running.get(e["workspace"], 0) < lim.per_workspace]
        out, tick = [], time.time()
        while waiting:
            nxt = min(waiting, key=lambda e: (served.get(e["workspace"], 0.0), e["enqueued"]))
            waiting.remove(nxt)
            out.append(nxt)
            tick += 1.0
            served[nxt["workspace"]] = tick  # as if it had just been served: the next pick prefers the others
        return out

    def places(self, limits: Limits | None = None) -> dict[str, Place]:
        """Run dir (resolved, as str) -> Place, for every waiting run."""
        state = self._read()
        lim = limits or self._stored_limits(state)
        order = self._order(state, lim)
        durations = state["durations"]
        now = time.time()
        running = [e for e in state["entries"] if e["admitted"] is not None]
        typical = sum(durations) / len(durations) if durations else None
        free_at = []  # seconds from now until each slot frees
        for e in running:
            st = RunDir(e["run"]).status()
            step, total = st.get("step") or 0, st.get("total_steps")
            elapsed = now - e["admitted"]
            if step and total:
                free_at.append(max(0.0, elapsed / step * (total - step)))
                typical = typical or elapsed / step * total
            else:
                free_at.append(None)
        free_at = [(t if t is not None else typical) for t in free_at] + [0.0] * max(0, lim.server - len(running))
        out = {}
        for i, e in enumerate(order):
            eta = None
            if free_at and all(t is not None for t in free_at):
                j = min(range(len(free_at)), key=free_at.__getitem__)
                eta = free_at[j]
                free_at[j] = (eta + typical) if typical is not None else None  # type: ignore[operator]
            out[e["run"]] = Place(i + 1, len(order), eta)
        return out

    def place(self, run_dir: str | os.PathLike) -> Place | None:
        return self.places().get(_key(run_dir))
