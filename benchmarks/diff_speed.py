"""Diff ResNet-18 against a variant of it: how long engine.diff takes (target ≤ 200 ms).

The variant has one edit of every kind: renamed nodes, a changed op, changed channels, an inserted Dropout, a
removed ReLU (its reader rewired past it), a rewired skip. Times `engine.diff(a, b)` from the two graph files' text
(median of N runs after a warm-up, and the first, cold call), against a baseline measured in the same run: loading
and checking the two graphs (`engine.load_graph` + `engine.check` on each), which any diff has to do at least.
Also DenseNet-121 (428 nodes) against a variant of it, for scale. Both templates use modules; the diff runs on
their flat form (every instance inlined: ResNet-18's 67 layers), where the edits reach inside the blocks. Prints
figures and ratios; asserts nothing.

    python benchmarks/diff_speed.py [--runs 30]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from engine.edit import rename_node  # noqa: E402
from engine.module_edit import inline  # noqa: E402

TARGET_MS = 200.0


def variant(g: dict) -> dict:
    """One edit of each kind on a copy of g (ids chosen from what the network has, so any template works)."""
    b = copy.deepcopy(g)
    nodes = {n["id"]: n for n in b["nodes"]}
    convs = [n for n in b["nodes"] if n["op"] == "Conv2d"]
    relus = [n for n in b["nodes"] if n["op"] == "ReLU"]
    for n in convs[1:3]:
        n.setdefault("params", {})["bias"] = not n["params"].get("bias", True)
    relus[1]["op"] = "Tanh"
    gone = relus[-2]
    src = gone["inputs"][0]
    b["nodes"].remove(gone)
    for n in b["nodes"]:
        if gone["id"] in n.get("inputs", []):
            n["inputs"] = [src if s == gone["id"] else s for s in n["inputs"]]
    last = nodes[b["outputs"][0]]
    b["nodes"].append({"id": "drop_head", "op": "Dropout", "params": {"p": 0.2}, "inputs": last["inputs"]})
    last["inputs"] = ["drop_head"]
    adds = [n for n in b["nodes"] if n["op"] == "Add"]
    if adds:  # a skip that now comes from the block's first conv
        adds[0]["inputs"] = [adds[0]["inputs"][0], convs[1]["id"]]
    for n in convs[4:7]:
        b = rename_node(b, n["id"], f"{n['id']}_renamed")
    return b


def inlined(g: dict) -> dict:
    """The design with every module instance (nested ones too) replaced by its layers, and no modules section."""
    while instances := [n["id"] for n in g["nodes"] if n["op"] in g.get("modules", {})]:
        for iid in instances:
            g = inline(g, iid)
    g.pop("modules", None)
    return g


def median_ms(fn, runs: int) -> tuple[float, float]:
    t = time.perf_counter()
    fn()
    first = (time.perf_counter() - t) * 1e3
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return first, statistics.median(times)


def measure(name: str, runs: int) -> float:
    a = inlined(engine.load_graph(ROOT / "assets" / "templates" / f"{name}.json").to_dict())
    b = variant(a)
    ta, tb = json.dumps(a), json.dumps(b)

    def baseline() -> None:
        engine.check(engine.load_graph(ta))
        engine.check(engine.load_graph(tb))

    d = engine.diff(ta, tb)
    first, diff_ms = median_ms(lambda: engine.diff(ta, tb), runs)
    _, base_ms = median_ms(baseline, runs)
    print(f"{name}: {len(a['nodes'])} vs {len(b['nodes'])} nodes (variant checks: {'ok' if d.b_ok else 'ERRORS'}) · "
          f"{d.summary()}")
    print(f"  engine.diff          {diff_ms:8.2f} ms median of {runs} (first call {first:.2f} ms)")
    print(f"  load + check both    {base_ms:8.2f} ms median (baseline, same run)")
    print(f"  ratio diff/baseline  {diff_ms / base_ms:8.2f}×")
    return diff_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    ms = measure("resnet18", args.runs)
    print(f"  target ≤ {TARGET_MS:.0f} ms: {'met' if ms <= TARGET_MS else 'MISSED'} "
          f"({ms / TARGET_MS:.3f} of the budget)\n")
    measure("densenet121", max(5, args.runs // 3))


if __name__ == "__main__":
    main()
