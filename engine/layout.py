"""Positions for a graph on the canvas: layers by topological depth, top to bottom; branches side by side.

A node's layer is its longest path from an Input, so every edge points down. Each node wants to sit at the mean x
of its inputs (the barycentre), so a chain stays in its column and a merge sits between its branches; nodes that
want the same spot are spread `dx` apart around it, by pooling overlapping runs and placing each run where its
members' wishes balance (least squares), so the branches of a fan-out sit side by side, centred under their source.
A skip connection (an edge over several layers) gets waypoints, one per layer it crosses, that take part in this
placement like nodes: the chain it skips moves aside, and the edge is not drawn through it.
"""
from __future__ import annotations

from collections import Counter, defaultdict

from engine.graph import UI, Graph, dependencies, topo_order

DX = 220.0  # horizontal distance between side-by-side nodes (a canvas node is ~180 px wide)
DY = 100.0  # vertical distance between layers
ROUTED_EDGES = 2  # skip connections get their own lane unless their source has more (DenseNet's would be a fan)


def layer_depths(g: Graph) -> dict[str, int]:
    """Node id -> its layer (0 for inputs); nodes on a cycle are left out."""
    ids = set(g.ids())
    depth: dict[str, int] = {}
    for nid in topo_order(g):
        deps = [d for d in dependencies(g, g.node(nid)) if d in ids]
        depth[nid] = 1 + max((depth[d] for d in deps), default=-1)
    return depth


def layered_layout(g: Graph, dx: float = DX, dy: float = DY) -> Graph:
    """A copy of g with every node's ui x, y set (ui.group and ui.comment are kept)."""
    g = g.model_copy(deep=True)
    depth = layer_depths(g)
    order = {nid: float(i) for i, nid in enumerate(depth)}
    parents = {nid: [d for d in dependencies(g, g.node(nid)) if d in depth] for nid in depth}
    long_edges = Counter(u for v in depth for u in parents[v] if depth[v] - depth[u] > 1)
    layers: dict[int, list] = defaultdict(list)
    ups: dict = {}  # layout item (node id, or a waypoint tuple) -> the items above it that pull on its x
    for v in depth:
        layers[depth[v]].append(v)
        ups[v] = []
        for u in parents[v]:
            prev = u
            if depth[v] - depth[u] > 1 and long_edges[u] <= ROUTED_EDGES:
                # waypoints give a skip connection its own lane, so it is not drawn through the nodes it skips
                for level in range(depth[u] + 1, depth[v]):
                    waypoint = ("waypoint", u, v, level)
                    ups[waypoint], order[waypoint] = [prev], order[u] + 0.5
                    layers[level].append(waypoint)
                    prev = waypoint
            ups[v].append(prev)
    bottom = max(layers, default=-1) + 1
    for n in g.nodes:  # nodes on a cycle have no depth: park them in one row below the rest
        if n.id not in depth:
            layers[bottom].append(n.id)
            ups[n.id], order[n.id] = [], float(len(order))
    x: dict = {}
    pos: dict[str, tuple[float, float]] = {}
    for level in sorted(layers):
        wishes = []
        for item in layers[level]:  # the barycentre: the mean x of what it hangs from
            xs = [x[u] for u in ups[item]]
            wishes.append((sum(xs) / len(xs) if xs else 0.0, order[item], item))
        wishes.sort(key=lambda w: (w[0], w[1]))
        for (_, _, item), at in zip(wishes, spread([w[0] for w in wishes], dx)):
            x[item] = at
            if isinstance(item, str):
                pos[item] = (round(at, 1), level * dy)
    for n in g.nodes:
        old = n.ui or UI()
        n.ui = UI(x=pos[n.id][0], y=pos[n.id][1], group=old.group, comment=old.comment)
    return g


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
