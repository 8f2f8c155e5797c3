"""The one auto-layout: layers top to bottom, branches side by side, with the canvas's card sizes.

It lays out imported models and templates (`layered_layout`, on a Graph) and, for the canvas, the Auto-layout
button and nodes that arrive without a position (`auto_layout` / `layout_positions`, on graph-file dicts that may
not be valid yet); both are thin adapters over `positions`, which reads any engine.wiring Graph. The canvas receives `SIZES` in its data, so cards
it places by itself line up with the ones laid out here.

1. Layers: a node's layer is its longest path from an Input (engine.wiring's dependency order), so every edge
   points down by whole layers.
2. A skip connection (an edge over several layers) gets waypoints, one per layer it crosses, that take part in
   the placement like cards: the chain it skips moves aside and the edge is not drawn through it. A source with
   many skips (DenseNet's concatenations) gets none: its lanes would spread every block into a wide fan.
3. Each card wants to sit at the mean x of what it hangs from (the barycentre), so a chain stays in one column
   and a merge sits between its branches. Cards of a layer are ordered by that wish, then spread at least a card
   and a gap apart by pooling overlapping runs and placing each run where its members' wishes balance (least
   squares): the branches of a fan-out sit side by side, centred under their source, and cards that do not
   collide stay exactly where they want to be.
"""
from __future__ import annotations

import copy
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from engine.edit import GraphView
from engine.graph import UI, Graph
from engine.wiring import Graph as Wired
from engine.wiring import dependencies, topo_order


@dataclass(frozen=True)
class LayoutSizes:
    """Canvas sizes in px, shared by this layout and the canvas (which gets them as `data.layout`)."""

    node_w: float = 200.0  # a node card's width (the canvas's .cv-node CSS width)
    node_h: float = 76.0  # a card's usual height (header, summary, shape line)
    layer_dy: float = 120.0  # from one layer to the next: a card plus room for the edge's shape label
    col_dx: float = 236.0  # from one column to the next: a card plus a 36 px gap, so cards never overlap
    inner_head_h: float = 18.0  # an expanded module instance's card: the module's name above its layers
    inner_row_h: float = 34.0  # ... and one row per layer (two lines); engine/reflow.py makes room for them

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


SIZES = LayoutSizes()
ROUTED_EDGES = 2  # skip connections get their own lane unless their source has more (DenseNet's would be a fan)


def layer_depths(g: Wired) -> dict[str, int]:
    """Node id -> its layer (0 for inputs), in dependency order; nodes in or below a cycle are left out."""
    by_id: dict[str, Any] = {}
    for n in g.nodes:
        by_id.setdefault(n.id, n)
    depth: dict[str, int] = {}
    for nid in topo_order(g):
        deps = [d for d in dependencies(g, by_id[nid]) if d in depth]
        depth[nid] = 1 + max((depth[d] for d in deps), default=-1)
    return depth


def positions(g: Wired, sizes: LayoutSizes = SIZES) -> dict[str, tuple[float, float]]:
    """Node id -> (x, y), the card's top-left corner, for every node of g (the first of duplicate ids)."""
    depth = layer_depths(g)
    by_id: dict[str, Any] = {}
    for n in g.nodes:
        by_id.setdefault(n.id, n)
    order = {nid: float(i) for i, nid in enumerate(depth)}  # ties in a layer keep the dependency order
    parents = {nid: list(dict.fromkeys(d for d in dependencies(g, by_id[nid]) if d in depth)) for nid in depth}
    long_edges = Counter(u for v in depth for u in parents[v] if depth[v] - depth[u] > 1)
    layers: dict[int, list] = defaultdict(list)
    ups: dict = {}  # layout item (node id, or a waypoint tuple) -> the items above it that pull on its x
    for v in depth:
        layers[depth[v]].append(v)
        ups[v] = []
        for u in parents[v]:
            prev = u
            if depth[v] - depth[u] > 1 and long_edges[u] <= ROUTED_EDGES:
                for level in range(depth[u] + 1, depth[v]):
                    waypoint = ("waypoint", u, v, level)
                    ups[waypoint], order[waypoint] = [prev], order[u] + 0.5
                    layers[level].append(waypoint)
                    prev = waypoint
            ups[v].append(prev)
    bottom = max(layers, default=-1) + 1
    for nid in by_id:  # nodes on a cycle have no depth: park them in one row below the rest, still visible
        if nid not in depth:
            layers[bottom].append(nid)
            ups[nid], order[nid] = [], float(len(order))
    x: dict = {}
    pos: dict[str, tuple[float, float]] = {}
    for level in sorted(layers):
        wishes = []
        for item in layers[level]:  # the barycentre: the mean x of what it hangs from
            xs = [x[u] for u in ups[item]]
            wishes.append((sum(xs) / len(xs) if xs else 0.0, order[item], item))
        wishes.sort(key=lambda w: (w[0], w[1]))
        for (_, _, item), at in zip(wishes, spread([w[0] for w in wishes], sizes.col_dx)):
            x[item] = at
            if isinstance(item, str):
                pos[item] = (round(at, 1), round(level * sizes.layer_dy, 1))
    return pos


def spread(wishes: list[float], dx: float) -> list[float]:
    """Positions for sorted wished-for x values, at least dx apart, as close to the wishes as possible.

    Pool-adjacent-violators: keep runs of neighbours that would overlap; a run of k nodes starts at the mean of
    (wish_i − i·dx), which minimises the squared distance of its members from their wishes.
    """
    runs: list[list[float]] = []  # each run: [start, count, sum of (wish_i - i*dx)]
    for w in wishes:
        runs.append([w, 1, w])
        while len(runs) > 1 and runs[-2][0] + runs[-2][1] * dx > runs[-1][0]:
            start, count, total = runs.pop()
            prev = runs[-1]
            prev[2] += total - count * prev[1] * dx  # the merged members sit prev[1] places further along
            prev[1] += count
            prev[0] = prev[2] / prev[1]
    out: list[float] = []
    for start, count, _ in runs:
        out.extend(start + i * dx for i in range(count))
    return out


# ---- adapters: a Graph (imports, templates) and graph-file dicts (the canvas) ----

def layered_layout(g: Graph, sizes: LayoutSizes = SIZES) -> Graph:
    """A copy of g with every node's ui x, y set (ui.group and ui.comment are kept)."""
    g = g.model_copy(deep=True)
    pos = positions(g, sizes)
    for n in g.nodes:
        old = n.ui or UI()
        x, y = pos[n.id]
        n.ui = UI(x=x, y=y, group=old.group, comment=old.comment)
    return g


def layout_positions(nodes: list[dict[str, Any]], sizes: LayoutSizes = SIZES) -> dict[str, tuple[float, float]]:
    """id -> (x, y) for every node dict (inputs from outside `nodes` are ignored, so a block lays out alone)."""
    return positions(GraphView.of(nodes), sizes)


def auto_layout(g: dict[str, Any], sizes: LayoutSizes = SIZES) -> dict[str, Any]:
    """A copy of the graph-file dict with every node's ui x, y set by the layout (other ui fields kept)."""
    out = copy.deepcopy(g)
    pos = layout_positions(out["nodes"], sizes)
    for n in out["nodes"]:
        ui = dict(n.get("ui") or {})
        ui["x"], ui["y"] = pos[n["id"]]
        n["ui"] = ui
    return out
