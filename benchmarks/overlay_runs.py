"""The Design page's health overlay with many runs on disk: what one canvas edit costs to find the design's latest
run (designer.train.layers.design_run), with 200 runs in the workspace.

Baseline, measured in the same run: the way design_run found it before engine.train.run_index, reproduced here
from the same engine functions: list every run (engine.train.runs.list_runs: run.json, config.json, status.json of
each), stat each run's graph.json and look its fingerprint hash up in a memo (the page had st.cache_data there,
which also hashes its arguments and copies its result: this baseline is the cheaper bound of the old cost), then
the first of the design's runs with diagnostics. Now: RunIndex.latest plus the found run's status (what
design_run reads). Also: the first call of each (every run's graph.json fingerprinted once), and a call right after
a new run appears (the folder listed again).

Runs are copies of prepared runs (engine.train.runs.prepare_run) of four templates, each with its own run.json;
one in four is of the design asked about, one in five has diagnostics. Prints figures and the ratio; asserts
nothing.

    python benchmarks/overlay_runs.py [--runs 200] [--edits 200]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.graph import load_graph  # noqa: E402
from engine.train import runs as R  # noqa: E402
from engine.train.fingerprint import design_fingerprint  # noqa: E402
from engine.train.run_index import RunIndex  # noqa: E402
from engine.train.rundir import RunDir  # noqa: E402

TEMPLATES = ROOT / "assets" / "templates"
DESIGNS = ("lenet5", "mnist_cnn", "mnist_rmsprop_cnn", "nin")
CFG = {"data": "mnist-sample", "epochs": 1}


def make_runs(root: Path, n: int) -> None:
    """n runs under root, newest last; run i trains DESIGNS[i % 4]; every fifth has a diagnostics file."""
    protos = {}
    for name in DESIGNS:
        g = json.loads((TEMPLATES / f"{name}.json").read_text())
        protos[name] = R.prepare_run(g, CFG, root.parent / "protos", name=name)
    names = list(protos)
    t0 = time.time() - n
    for i in range(n):
        name = names[i % len(names)]
        d = root / f"run-{i:04d}-{name}"
        shutil.copytree(protos[name], d)
        (d / RunDir.META).write_text(json.dumps({"name": f"{name} #{i}", "created": t0 + i}))
        if i % 5 == 0:
            RunDir(d).diagnostics_path.write_text(json.dumps({"step": 1, "nodes": {}}) + "\n")


_memo: dict[tuple[str, float], str | None] = {}


def old_design_run(root: Path, want: str) -> tuple[RunDir, dict] | None:
    """design_run before run_index: every run listed, each graph.json's hash looked up by (path, mtime)."""
    runs = R.list_runs(root)
    for r in runs:
        path = RunDir(r["path"]).graph_path
        if not path.is_file():
            continue
        k = (str(r["path"]), path.stat().st_mtime)
        if k not in _memo:
            _memo[k] = design_fingerprint(RunDir(r["path"]).graph())["hash"]
        if _memo[k] == want:
            rd = RunDir(r["path"])
            if rd.diagnostics_path.exists():
                return rd, r
    return None


def new_design_run(index: RunIndex, want: str) -> tuple[RunDir, dict] | None:
    found = index.latest(want)
    if found is None:
        return None
    rd = RunDir(found.path)
    return rd, {"id": found.id, "name": found.name, "status": rd.status().get("state")}


def timed(fn, edits: int) -> tuple[float, float]:
    """(first call ms, median ms of the next `edits` calls)."""
    t = time.perf_counter()
    fn()
    first = (time.perf_counter() - t) * 1e3
    times = []
    for _ in range(edits):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return first, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--edits", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        root.mkdir()
        make_runs(root, args.runs)
        past = time.time() - 60  # the folder's last change a minute back, as after a while of editing
        os.utime(root, (past, past))
        want = design_fingerprint(load_graph(TEMPLATES / "lenet5.json"))["hash"]
        index = RunIndex(root)
        old = old_design_run(root, want)
        new = new_design_run(index, want)
        _memo.clear()
        index = RunIndex(root)
        assert old is not None and new is not None and old[0] == new[0], (old, new)  # the same run, both ways
        old_first, old_ms = timed(lambda: old_design_run(root, want), args.edits)
        new_first, new_ms = timed(lambda: new_design_run(index, want), args.edits)
        listings = index.listings
        listed = len(R.list_runs(root))
        shutil.copytree(old[0].path, root / "run-new")  # a new run of the design appears
        (root / "run-new" / RunDir.META).write_text(json.dumps({"name": "new", "created": time.time()}))
        t = time.perf_counter()
        after = new_design_run(index, want)
        new_after = (time.perf_counter() - t) * 1e3
        assert after is not None and after[0].id == "run-new"
        print(f"{listed} runs on disk, one in {len(DESIGNS)} of the design; its latest with diagnostics: "
              f"{new[1]['id']}")
        print(f"first call: before {old_first:8.2f} ms (graphs fingerprinted up to the design's latest run)   now "
              f"{new_first:8.2f} ms (every run's graph fingerprinted, once per server)")
        print(f"per edit, no run made or deleted (median of {args.edits}): before {old_ms:8.3f} ms   now "
              f"{new_ms:8.3f} ms   ratio {old_ms / new_ms:.0f}x   (runs folder listed {listings - 1} times "
              f"during those edits)")
        print(f"the edit right after a new run appeared: {new_after:.3f} ms (the folder listed again, the new run's "
              f"graph fingerprinted)")


if __name__ == "__main__":
    main()
