"""Auto-layout: a layered (Sugiyama-style) drawing, data flowing top to bottom.

1. Layers: a node sits one layer below its deepest dependency (longest path), so every edge points down.
2. Long edges (skip connections) get a card-wide placeholder in each layer they cross, so the column they need is
   kept free and a residual's skip line does not run through the blocks it skips.
3. Order within a layer: a few sweeps of the barycenter heuristic (mean position of the parents), which removes
   most crossings of branch-and-merge blocks (Inception, residual, dense).
4. x: each node wants its parents' mean x; nodes are then pushed apart to keep a minimum gap, and the layer is
   shifted so the pushes balance out. Chains come out straight; branches spread symmetrically.
"""
from __future__ import annotations

import copy
from collections import deque
from typing import Any

from designer.design.edit import dependencies

NODE_W = 200.0  # a node card's width on the canvas (px)
DUMMY_W = NODE_W  # a skip line crossing a layer keeps a card's width free: edges are drawn straight, so the
# cards it passes must step aside by half a card
GAP = 36.0  # horizontal gap between neighbours
LAYER_DY = 120.0  # vertical distance between layers (card ~76 px + room for the edge's shape label)
SWEEPS = 4


def _layers(nodes: list[dict]) -> dict[str, int]:
    ids = [n["id"] for n in nodes]
    known = set(ids)
    deps = {n["id"]: [d for d in dependencies(n) if d in known and d != n["id"]] for n in nodes}
    readers: dict[str, list[str]] = {i: [] for i in ids}
    missing = {i: len(set(deps[i])) for i in ids}
    for i in ids:
        for d in set(deps[i]):
            readers[d].append(i)
    queue = deque(i for i in ids if missing[i] == 0)  # Kahn's algorithm, file order among ready nodes
    layer: dict[str, int] = {}
    while queue:
        i = queue.popleft()
        layer[i] = 1 + max((layer[d] for d in deps[i]), default=-1)
        for r in readers[i]:
            missing[r] -= 1
            if missing[r] == 0:
                queue.append(r)
    bottom = max(layer.values(), default=-1)
    for i in ids:  # nodes on a cycle have no layer; stack them below the rest so they stay visible
        if i not in layer:
            bottom += 1
            layer[i] = bottom
    return layer


def layout_positions(nodes: list[dict]) -> dict[str, tuple[float, float]]:
    """id -> (x, y) for every node."""
    if not nodes:
        return {}
    layer = _layers(nodes)
    known = set(layer)
    rows: dict[int, list[str]] = {}
    width: dict[str, float] = {}
    parents: dict[str, list[str]] = {}
    for n in nodes:
        rows.setdefault(layer[n["id"]], []).append(n["id"])
        width[n["id"]] = NODE_W
        parents.setdefault(n["id"], [])
    for n in nodes:  # split edges that skip layers into a chain of placeholders
        child = n["id"]
        for d in dict.fromkeys(dependencies(n)):
            if d not in known or d == child or layer[d] >= layer[child]:
                continue
            prev = d
            for k in range(layer[d] + 1, layer[child]):
                dummy = f"\0{d}\0{k}"  # long edges from one source share their column (they overlap anyway)
                if dummy not in width:
                    rows[k].append(dummy)
                    width[dummy] = DUMMY_W
                    parents[dummy] = [prev]
                prev = dummy
            parents[child].append(prev)
    depth = max(rows)
    order = {k: list(rows.get(k, [])) for k in range(depth + 1)}
    for _ in range(SWEEPS):
        for k in range(1, depth + 1):
            pos = {v: i for i, v in enumerate(order[k - 1])}
            bary = {}
            for i, v in enumerate(order[k]):
                ps = [pos[p] for p in parents[v] if p in pos]
                bary[v] = sum(ps) / len(ps) if ps else float(i)
            order[k].sort(key=lambda v: bary[v])  # stable: ties keep the current order
    x: dict[str, float] = {}
    for k in range(depth + 1):
        row = order[k]
        want = []
        for v in row:
            px = [x[p] for p in parents[v] if p in x]
            want.append(sum(px) / len(px) if px else None)
        if all(w is None for w in want):  # a top row: centre it
            total = sum(width[v] for v in row) + GAP * (len(row) - 1)
            cur = -total / 2
            for v in row:
                x[v] = cur + width[v] / 2
                cur += width[v] + GAP
            continue
        fallback = next(w for w in want if w is not None)
        want = [w if w is not None else fallback for w in want]
        placed: list[float] = []
        for i, v in enumerate(row):
            xi = want[i]
            if placed:
                xi = max(xi, placed[-1] + (width[row[i - 1]] + width[v]) / 2 + GAP)
            placed.append(xi)
        shift = sum(p - w for p, w in zip(placed, want)) / len(row)
        for v, p in zip(row, placed):
            x[v] = p - shift
    return {n["id"]: (round(x[n["id"]] - NODE_W / 2, 1), round(layer[n["id"]] * LAYER_DY, 1)) for n in nodes}


def auto_layout(g: dict[str, Any]) -> dict[str, Any]:
    """A copy of the graph with every node's ui x, y set by `layout_positions` (other ui fields kept)."""
    out = copy.deepcopy(g)
    pos = layout_positions(out["nodes"])
    for n in out["nodes"]:
        ui = dict(n.get("ui") or {})
        ui["x"], ui["y"] = pos[n["id"]]
        n["ui"] = ui
    return out
