"""Expand/collapse with the re-flow (engine/reflow.py) on big graphs: how long `set_expanded` takes when the cards
below the instance make room, against a baseline measured in the same run: the same edit without the re-flow
(a copy of the graph with the instance's ui flag set: what the edit cost before the re-flow existed), and, for
scale, a brute-force re-flow that compares every pair of cards. Graphs: columns of 100 cards (one instance in
ten), 1,000 and 4,000 cards; the instance expanded is the top one of the first column, so every card below it
moves. Also prints the time of expanding every instance of the 1,000-card graph one after another. Prints
figures and ratios; asserts nothing.

    python benchmarks/reflow_speed.py [--runs 20]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.layout import SIZES  # noqa: E402
from engine.module_edit import set_expanded  # noqa: E402
from engine.reflow import card_height  # noqa: E402

UNIT = {"args": {"ch": 8}, "inputs": ["x"], "nodes": [
    {"id": "conv", "op": "Conv2d", "params": {"out_channels": "$ch", "kernel_size": 3, "padding": 1}, "inputs": ["x"]},
    {"id": "bn", "op": "BatchNorm2d", "inputs": ["conv"]},
    {"id": "act", "op": "ReLU", "inputs": ["bn"]}], "outputs": ["act"]}


def graph(n: int) -> dict:
    nodes = [{"id": "input", "op": "Input", "params": {"shape": [3, 12, 12]}, "ui": {"x": 0.0, "y": -120.0}}]
    for c in range(n // 100):
        prev = "input"
        for r in range(100):
            nid = f"c{c}_{r}"
            nodes.append({"id": nid, "op": "Unit" if r % 10 == 0 else "ReLU", "inputs": [prev],
                          "ui": {"x": c * SIZES.col_dx + (r % 3) * 20.0, "y": r * SIZES.layer_dy}})
            prev = nid
    return {"format": "convas-graph", "version": 2, "name": "big", "nodes": nodes, "outputs": [prev],
            "modules": {"Unit": UNIT}}


def flag_only(g: dict, nid: str) -> dict:
    g = copy.deepcopy(g)
    next(n for n in g["nodes"] if n["id"] == nid)["ui"]["expanded"] = True
    return g


def brute_force(g: dict, nid: str) -> dict:
    """The same moves by comparing every pair: a card moves if a moved card above it shares some of its width."""
    g = flag_only(g, nid)
    d = card_height(g, next(n for n in g["nodes"] if n["id"] == nid)) - SIZES.node_h
    cards = sorted(g["nodes"], key=lambda n: n["ui"]["y"])
    moved = [next(n for n in cards if n["id"] == nid)]
    for n in cards:
        if n["ui"]["y"] > moved[0]["ui"]["y"] and any(abs(m["ui"]["x"] - n["ui"]["x"]) < SIZES.node_w for m in moved):
            moved.append(n)
    for n in moved[1:]:
        n["ui"]["y"] += d
    return g


def median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    for n in (1000, 4000):
        g = graph(n)
        e = set_expanded(g, "c0_0", True)
        ours = median_ms(lambda g=g: set_expanded(g, "c0_0", True), args.runs)
        back = median_ms(lambda e=e: set_expanded(e, "c0_0", False), args.runs)
        base = median_ms(lambda g=g: flag_only(g, "c0_0"), args.runs)
        brute = median_ms(lambda g=g: brute_force(g, "c0_0"), max(1, args.runs // 5))
        print(f"{len(g['nodes']):>5} cards: expand {ours:7.1f} ms, collapse {back:7.1f} ms | without re-flow "
              f"(baseline) {base:6.1f} ms -> x{ours / base:.1f} | pairwise re-flow {brute:8.1f} ms "
              f"(pairwise / ours: {brute / ours:.1f})")
    g = graph(1000)
    ids = [x["id"] for x in g["nodes"] if x["op"] == "Unit"]
    t = time.perf_counter()
    for nid in ids:
        g = set_expanded(g, nid, True)
    print(f"every instance of the 1,000-card graph expanded one after another ({len(ids)} edits): "
          f"{(time.perf_counter() - t) * 1000 / len(ids):.1f} ms per edit")


if __name__ == "__main__":
    main()
