"""What the Export page exports: the current design (fresh weights) or a trained run (its graph and best weights),
and the bytes of every download, built on demand and cached per source."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import streamlit as st

import engine
from designer.state import runs_root
from engine.export import bundle as B
from engine.export import formats as X
from engine.filenames import safe_filename
from engine.train import runs as R
from engine.train.config import TrainConfig
from engine.train.headline import best_text
from engine.train.rundir import RunDir

FILES = {  # format -> (file suffix, mime type)
    "py": (".py", "text/x-python"), "graph": (".json", "application/json"),
    "safetensors": (".safetensors", "application/octet-stream"), "torchscript": (".pt", "application/octet-stream"),
    "pt2": (".pt2", "application/octet-stream"), "onnx": (".onnx", "application/octet-stream"), "bundle": ("_bundle.zip", "application/zip"),
}


@dataclasses.dataclass(frozen=True)
class Source:
    key: str  # "design" or the run id
    label: str
    graph_json: str  # the graph as JSON text (hashable, so it can key the cache)
    run_id: str | None = None
    stamp: str = ""  # RunDir.stamp() of the run's checkpoints: a cache entry is refreshed when they change
    runs: str = ""  # the session's runs folder, read while the page runs: a deferred download is built outside
    #                 the session (no session state there, so no workspace to ask)

    @property
    def run_path(self) -> Path:
        return Path(self.runs) / self.run_id

    @property
    def trained(self) -> bool:
        return self.run_id is not None

    @property
    def graph(self) -> dict:
        return json.loads(self.graph_json)

    def file_name(self, fmt: str) -> str:
        stem = safe_filename(self.graph.get("name", "model"), "model")
        return {"py": "model.py"}.get(fmt, stem + FILES[fmt][0])


def sources(graph: dict) -> list[Source]:
    """The current design first, then every run that has a checkpoint, newest first."""
    out = [Source("design", f"Current design: {graph.get('name', 'untitled')} (untrained: fresh random weights)",
                  json.dumps(graph, sort_keys=True))]
    for r in R.list_runs(runs_root()):
        run = RunDir(r["path"])
        if run.weights("best") is None:  # best falls back to last: no checkpoint at all
            continue
        when = dt.datetime.fromtimestamp(r["created"]).strftime("%Y-%m-%d %H:%M")
        best = best_text(r)
        acc = f", {best}" if best else ""
        try:
            g = run.graph().to_dict()
        except engine.GraphError:
            continue
        out.append(Source(r["id"], f"Run {r['name']} · {when} ({r['status']}{acc})",
                          json.dumps(g, sort_keys=True), r["id"], run.stamp(), str(runs_root())))
    return out


def _state_dict(src: Source):
    if not src.trained:
        return None
    _, model = R.load_trained(src.run_path)
    return model.state_dict()


def settings_json(src: Source) -> str:
    """What an untrained design's bundle takes as its training settings: the Train page's current ones.
    Read while the page runs (a download's callable runs outside the session)."""
    if src.trained:
        return ""
    return json.dumps(st.session_state.get("train_config") or TrainConfig().to_dict(), sort_keys=True)


@st.cache_data(show_spinner=False, max_entries=24)
def artifact(src: Source, fmt: str, config_json: str = "") -> bytes:
    """Cached per source (graph, run, checkpoints' stamp), format and, for an untrained bundle, settings."""
    if fmt == "graph":
        return (json.dumps(src.graph, indent=2, ensure_ascii=False) + "\n").encode()
    if fmt == "py":
        return engine.to_python(src.graph).encode()
    if fmt == "bundle":
        if src.trained:
            return B.run_bundle_bytes(src.run_path)
        config = json.loads(config_json) if config_json else TrainConfig().to_dict()
        return B.bundle_bytes(src.graph, train_config=config, sample=B.load_sample(config, src.graph))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / src.file_name(fmt)
        X.export(src.graph, fmt, path, state_dict=_state_dict(src))
        return path.read_bytes()


@st.cache_data(show_spinner=False, max_entries=8)
def verify_bundle(src: Source, config_json: str = "") -> tuple[bool, str]:
    """Unzip the bundle into a temporary folder and run its test_model.py in a fresh Python (-I: nothing from
    this app on its path), as a user would. (passed?, its output)."""
    data = artifact(src, "bundle", config_json)
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            z.extractall(tmp)
            top = Path(tmp) / z.namelist()[0].split("/")[0]
        r = subprocess.run([sys.executable, "-I", "test_model.py"], cwd=top, capture_output=True, text=True,
                           timeout=300)
    return r.returncode == 0, (r.stdout + r.stderr).strip()
