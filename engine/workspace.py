"""Workspaces: one per browser on a shared server, each with its own autosaved design, uploads and runs; and share
links, which hand someone a copy of a design (or a read-only view of a run) instead of the files themselves.

    CONVAS_HOME/
        autosave.json, runs/          the home workspace's files (see below)
        workspaces/HOME               the id of the home workspace
        workspaces/<id>/workspace.json   {id, created}
        workspaces/<id>/autosave.json, runs/, uploads/
        shares/<token>.json           {kind: "design", graph} or {kind: "run", workspace, run}
        queue/                        the run queue (engine.train.queue)

The first workspace made in a CONVAS_HOME is its *home* workspace: it adopts what Convas kept there before
workspaces existed (autosave.json and runs/ at the top, or the CONVAS_RUNS folder), in place. Nothing moves, so
nothing is lost and scripts that point at CONVAS_HOME/runs keep working; one person on their own machine sees no
change. Every later workspace (another browser) lives under workspaces/<id>/ and starts empty.

Ids and tokens are random (secrets, 128 bits) and validated against one pattern before any path is made from them;
a path is never made from user text. An id is a bearer secret: whoever holds it opens the workspace.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_text
from engine.errors import GraphError
from engine.graph import load_graph

ID_RE = re.compile(r"^[0-9a-f]{32}$")  # secrets.token_hex(16)
TOKEN_RE = ID_RE
WORKSPACES, SHARES, QUEUE, HOME_FILE, META = "workspaces", "shares", "queue", "HOME", "workspace.json"
AUTOSAVE, RUNS, UPLOADS = "autosave.json", "runs", "uploads"


class WorkspaceError(ValueError):
    """A workspace id or share token that is malformed or unknown."""


def valid_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID_RE.match(value))


def check_id(value: object, what: str = "workspace id") -> str:
    if not valid_id(value):
        shown = value[:40] if isinstance(value, str) else type(value).__name__
        raise WorkspaceError(f"{shown!r} is not a {what}: it must be 32 lowercase hex digits (as Convas makes them).")
    return value  # type: ignore[return-value]


def _read_json(path: Path) -> Any:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, obj: Any) -> None:
    import json

    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class Workspace:
    """One workspace: where its design, uploads and runs are kept."""

    id: str
    path: Path  # workspaces/<id>: its record, and its files unless it is the home workspace
    autosave: Path
    runs: Path
    uploads: Path
    is_home: bool


class Workspaces:
    """The workspaces of one CONVAS_HOME. `runs_override` (CONVAS_RUNS) relocates the home workspace's runs."""

    def __init__(self, home: str | os.PathLike, runs_override: str | os.PathLike | None = None):
        self.home = Path(home).resolve()
        self.root = self.home / WORKSPACES
        self.runs_override = Path(runs_override).resolve() if runs_override else None

    @property
    def queue_dir(self) -> Path:
        return self.home / QUEUE

    def home_id(self) -> str | None:
        try:
            wid = (self.root / HOME_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return wid if valid_id(wid) else None

    def _workspace(self, wid: str) -> Workspace:
        path = self.root / check_id(wid)
        if wid == self.home_id():
            return Workspace(wid, path, self.home / AUTOSAVE, self.runs_override or self.home / RUNS,
                             self.home / UPLOADS, True)
        return Workspace(wid, path, path / AUTOSAVE, path / RUNS, path / UPLOADS, False)

    def get(self, wid: object) -> Workspace | None:
        """The existing workspace with this id, or None (malformed or unknown ids alike)."""
        if not valid_id(wid) or not (self.root / wid / META).is_file():  # type: ignore[operator]
            return None
        return self._workspace(wid)  # type: ignore[arg-type]

    def create(self) -> Workspace:
        """A new workspace with a fresh random id; the first one of this CONVAS_HOME becomes its home workspace."""
        self.root.mkdir(parents=True, exist_ok=True)
        wid = secrets.token_hex(16)
        (self.root / wid).mkdir()
        _write_json(self.root / wid / META, {"id": wid, "created": time.time()})
        try:  # O_EXCL: of two first visitors at the same moment exactly one gets the home workspace
            fd = os.open(self.root / HOME_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(wid + "\n")
        return self._workspace(wid)

    def open(self, wid: object) -> Workspace:
        """The workspace a browser's stored id names, or a new one when it names none (missing, malformed, or
        unknown here: a client never chooses its id)."""
        return self.get(wid) or self.create()

    def for_user(self, user: str) -> Workspace:
        """The workspace of a signed-in person (`user`: a stable identity, e.g. issuer|subject of an OIDC login),
        made on their first visit. The identity is hashed: it names a file, never a path of its own."""
        users = self.root / "users"
        record = users / f"{hashlib.sha256(user.encode('utf-8')).hexdigest()}.json"
        users.mkdir(parents=True, exist_ok=True)
        with open(users / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one workspace even when two of their tabs arrive at once
            ws = self.get((_read_json(record) or {}).get("workspace"))
            if ws is None:
                ws = self.create()
                _write_json(record, {"workspace": ws.id, "created": time.time()})
        return ws

    def summary(self) -> list[dict[str, Any]]:
        """Every workspace: id, created, home, whether it has a design, and its run count; oldest first."""
        out = []
        if not self.root.is_dir():
            return out
        for d in self.root.iterdir():
            ws = self.get(d.name)
            if ws is None:
                continue
            meta = _read_json(d / META) or {}
            runs = sum(1 for r in ws.runs.iterdir() if r.is_dir()) if ws.runs.is_dir() else 0
            out.append({"id": ws.id, "created": meta.get("created"), "home": ws.is_home,
                        "design": ws.autosave.is_file(), "runs": runs, "path": str(ws.path)})
        out.sort(key=lambda w: w["created"] or 0)
        return out

    # ---- share links ---------------------------------------------------------------------------------------------
    def share_design(self, graph: Any) -> str:
        """A token for a copy of `graph` as it is now (later edits by its owner do not reach it)."""
        g = load_graph(graph)  # refuses what is not a graph, with the parser's message
        return self._new_share({"kind": "design", "graph": g.to_dict()})

    def share_run(self, ws: Workspace, run_id: str) -> str:
        """A token for a read-only view of one of `ws`'s runs."""
        if not self._run_path(ws, run_id).is_dir():
            raise WorkspaceError(f"no run {run_id!r} in this workspace.")
        return self._new_share({"kind": "run", "workspace": ws.id, "run": run_id})

    def _new_share(self, record: dict[str, Any]) -> str:
        token = secrets.token_hex(16)
        _write_json(self.home / SHARES / f"{token}.json", {**record, "created": time.time()})
        return token

    @staticmethod
    def _run_path(ws: Workspace, run_id: object) -> Path:
        # a run id is a directory name the engine made (engine.train.runs.new_run_dir): one plain path component
        if not isinstance(run_id, str) or not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z_.-]{0,80}", run_id) \
                or ".." in run_id:
            raise WorkspaceError(f"{str(run_id)[:40]!r} is not a run id.")
        return ws.runs / run_id

    def shared(self, token: object) -> dict[str, Any]:
        """What a share token names: {kind: "design", graph} or {kind: "run", run_dir}. WorkspaceError when the
        token is malformed or unknown, or what it named is gone."""
        check_id(token, "share token")
        rec = _read_json(self.home / SHARES / f"{token}.json")
        if not isinstance(rec, dict):
            raise WorkspaceError("this share link is unknown here: ask for a new one.")
        if rec.get("kind") == "design":
            try:
                return {"kind": "design", "graph": load_graph(rec.get("graph")).to_dict()}
            except GraphError as e:
                raise WorkspaceError(f"the shared design cannot be opened: {e}") from e
        if rec.get("kind") == "run":
            ws = self.get(rec.get("workspace"))
            path = self._run_path(ws, rec.get("run")) if ws else None
            if path is None or not path.is_dir():
                raise WorkspaceError("the shared run no longer exists.")
            return {"kind": "run", "run_dir": path}
        raise WorkspaceError("this share link is damaged: ask for a new one.")
