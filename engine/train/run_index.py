"""Which runs a design trained, answered without reading every run on disk each time it is asked.

The Design page asks on every canvas edit (its health overlay shows the design's latest run). Listing the runs
folder the full way (engine.train.runs.list_runs: three JSON files per run, then each run's graph.json) is disk
work that grows with the runs folder: a class server or a workspace with hundreds of runs pays it on every edit.

`RunIndex` keeps, per run directory, what never changes once the run exists: its name and creation time
(run.json) and the fingerprint hash of the design it trained (graph.json, engine.train.fingerprint: ops,
parameters and wiring; name and layout aside). Both are written once, when the run is prepared (prepare_run, or
the trainer for a run started from the command line). The folder is listed again only when it changed:

- the runs folder's own stat (inode, mtime, link count) changes when a run directory is created or deleted;
- a listing taken while the folder's mtime is within `RACY_S` of the listing itself is not trusted (a file
  system's clock ticks coarsely: two changes within one tick leave one mtime; git's "racy" index has the same
  rule), so the next call lists again;
- a directory that is not a complete run yet (created, its files not written; or a stray folder) is looked at
  again on every call: two stats, until it is complete.

What does change during a run (its status, whether it has diagnostics yet) is never cached: `latest` reads it for
the design's own runs only. Nothing here reads Streamlit; the page keeps one index per runs folder (`index_for`),
shared by every session of the server.
"""
from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from engine.errors import GraphError
from engine.train.fingerprint import design_fingerprint
from engine.train.rundir import RunDir

RACY_S = 2.0  # a folder changed this recently is listed again on the next call
MAX_INDEXES = 256  # runs folders remembered by index_for (one per workspace); the least recently used go first


@dataclass(frozen=True)
class IndexedRun:
    """What a run directory says about itself that never changes: id (its folder's name), name, created, design
    (the fingerprint hash of its graph.json; None when that cannot be read as a design)."""
    id: str
    path: Path
    name: str
    created: float
    design: str | None


def _complete(d: Path) -> IndexedRun | None:
    """The run in `d` when it is complete (run.json and graph.json written), else None."""
    rd = RunDir(d)
    meta = rd.meta()
    if not meta or not rd.graph_path.is_file():
        return None
    try:
        design = design_fingerprint(rd.graph())["hash"]
    except (GraphError, OSError, ValueError):
        return None  # unreadable now: looked at again next time, like a run still being written
    return IndexedRun(id=d.name, path=d, name=str(meta.get("name", d.name)),
                      created=float(meta.get("created") or 0.0), design=design)


class RunIndex:
    """The runs under one runs folder, newest first, listed again only when the folder changed (see the module
    docstring). Thread-safe: Streamlit serves each session from its own thread."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.listings = 0  # how many times the folder was listed (tests and benchmarks read it)
        self._lock = threading.Lock()
        self._sig: tuple[int, int, int] | None = None
        self._trusted = False  # the last listing was taken well after the folder's last change
        self._runs: dict[str, IndexedRun] = {}  # folder name -> run
        self._inodes: dict[str, int] = {}  # folder name -> its inode, as last listed
        self._pending: set[str] = set()  # folder names that are not complete runs (yet)
        self._ordered: list[IndexedRun] = []

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            s = os.stat(self.root)
        except OSError:
            return None
        return s.st_ino, s.st_mtime_ns, s.st_nlink

    def _list(self, sig: tuple[int, int, int] | None) -> None:
        started = time.time_ns()
        self.listings += 1
        found: dict[str, int] = {}  # folder name -> inode: a run deleted and made again under its name is new
        if sig is not None:
            try:
                with os.scandir(self.root) as it:
                    found = {e.name: e.inode() for e in it if e.is_dir(follow_symlinks=False)}
            except OSError:
                found = {}
        self._runs = {k: v for k, v in self._runs.items() if self._inodes.get(k) == found.get(k)}  # deleted drop out
        self._inodes = found
        self._pending = set()
        for name in found.keys() - self._runs.keys():
            run = _complete(self.root / name)
            if run is None:
                self._pending.add(name)
            else:
                self._runs[name] = run
        self._sig = sig
        self._trusted = sig is not None and sig[1] < started - int(RACY_S * 1e9)

    def _recheck_pending(self) -> bool:
        changed = False
        for name in list(self._pending):
            run = _complete(self.root / name)
            if run is not None:
                self._pending.discard(name)
                self._runs[name] = run
                changed = True
        return changed

    def runs(self) -> list[IndexedRun]:
        """Every complete run under the folder, newest first (as engine.train.runs.list_runs orders them)."""
        with self._lock:
            sig = self._signature()
            changed = False
            if sig != self._sig or not self._trusted:
                self._list(sig)
                changed = True
            elif self._pending:
                changed = self._recheck_pending()
            if changed:
                self._ordered = sorted(self._runs.values(), key=lambda r: r.created, reverse=True)
            return list(self._ordered)

    def of_design(self, design: str | None) -> list[IndexedRun]:
        """The runs that trained the design whose fingerprint hash is `design`, newest first (none for None)."""
        if design is None:
            return []
        return [r for r in self.runs() if r.design == design]

    def latest(self, design: str | None, has_diagnostics: bool = True) -> IndexedRun | None:
        """The newest run of `design` (with a diagnostics file, by default): read now, not cached, for that
        design's runs only."""
        for r in self.of_design(design):
            if not has_diagnostics or RunDir(r.path).diagnostics_path.exists():
                return r
        return None


_indexes: OrderedDict[str, RunIndex] = OrderedDict()
_indexes_lock = threading.Lock()


def index_for(root: str | os.PathLike) -> RunIndex:
    """The process's one index of the runs folder `root` (made on first use)."""
    key = os.path.abspath(root)
    with _indexes_lock:
        idx = _indexes.get(key)
        if idx is None:
            idx = _indexes[key] = RunIndex(key)
        _indexes.move_to_end(key)
        while len(_indexes) > MAX_INDEXES:
            _indexes.popitem(last=False)
        return idx
