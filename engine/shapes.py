"""The live check: every node's output shape (or the error that explains why not), params, MACs, memory.

`check` never raises on a bad graph: the canvas calls it on every edit, half-wired graphs included. One error
does not hide independent errors elsewhere; nodes downstream of an error are marked `blocked`, not failed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from engine.catalog import get_op, has_op
from engine.catalog.arith import fmt_shape
from engine.errors import Issue, ShapeError
from engine.graph import graph_issues, node_issues, parse, topo_order

Shape = tuple[int, ...]


@dataclass
class NodeReport:
    id: str
    op: str
    shape: Shape | None = None  # output shape without the batch, or None when unknown
    in_shapes: list[Shape] = field(default_factory=list)
    params: int = 0
    macs: int = 0
    error: str | None = None  # this node's own problem (first one), without the node-id prefix
    blocked: bool = False  # an upstream node has an error, so this node's shape is unknown

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, "shape": list(self.shape) if self.shape else None,
                "in_shapes": [list(s) for s in self.in_shapes], "params": self.params, "macs": self.macs,
                "error": self.error, "blocked": self.blocked}


@dataclass
class Report:
    ok: bool
    errors: list[Issue]
    nodes: dict[str, NodeReport]
    order: list[str] = field(default_factory=list)  # dependency order of the nodes that have one
    normalised: dict[str, dict[str, Any]] = field(default_factory=dict)  # params after normalisation, per node

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes.values())

    @property
    def total_macs(self) -> int:
        return sum(n.macs for n in self.nodes.values())

    def activation_count(self) -> int:
        """Elements of every node's output for one sample (what a forward pass keeps for backward)."""
        return sum(math.prod(n.shape) for n in self.nodes.values() if n.shape and n.op != "Input")

    def memory_estimate(self, batch_size: int, bytes_per_value: int = 4, optimizer_slots: int = 2) -> dict[str, int]:
        """Bytes needed to train at this batch size: weights, gradients, optimizer state (Adam: 2 slots) and
        activations (kept for backward, plus their gradients)."""
        w = self.total_params * bytes_per_value
        act = self.activation_count() * batch_size * bytes_per_value * 2
        d = {"weights": w, "gradients": w, "optimizer": w * optimizer_slots, "activations": act}
        d["total"] = sum(d.values())
        return d

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": [e.to_dict() for e in self.errors],
                "nodes": {k: v.to_dict() for k, v in self.nodes.items()},
                "total_params": self.total_params, "total_macs": self.total_macs}


class _Blocked(Exception):
    pass


def check(source: Any) -> Report:
    """Graph, dict, JSON text -> Report. Never raises for a bad graph."""
    g, issues = parse(source)
    if g is None:
        return Report(ok=False, errors=issues, nodes={})
    ids = [n.id for n in g.nodes]
    id_set = set(ids)
    errors: list[Issue] = []
    by_node: dict[str, list[Issue]] = {}
    for n in g.nodes:
        own = node_issues(g, n, id_set)
        by_node.setdefault(n.id, []).extend(own)
    graph_level = graph_issues(g)
    for i in graph_level:
        if i.node:
            by_node.setdefault(i.node, []).append(i)
    reports: dict[str, NodeReport] = {}
    normalised: dict[str, dict[str, Any]] = {}
    order = topo_order(g)
    nodes = {n.id: n for n in g.nodes}
    for nid in order:
        n = nodes[nid]
        r = NodeReport(nid, n.op)
        reports[nid] = r
        own = by_node.get(nid)
        if own:
            r.error = own[0].message
            continue
        spec = get_op(n.op)
        p, _ = spec.normalise(n.params)
        normalised[nid] = p
        ups = [reports.get(s) for s in n.inputs]
        if any(u is None or u.shape is None for u in ups):
            r.blocked = True
            continue
        r.in_shapes = [u.shape for u in ups]  # type: ignore[misc]
        try:
            ctx_ins = list(r.in_shapes)
            for name in spec.ref_params:  # a referenced node contributes its input and output shapes
                ref = reports.get(p[name])
                if ref is None or ref.shape is None or not ref.in_shapes:
                    raise _Blocked
                ctx_ins += [ref.in_shapes[0], ref.shape]
            r.shape = tuple(spec.infer(p, ctx_ins))
            if any(d <= 0 for d in r.shape):
                raise ShapeError(f"output shape {fmt_shape(r.shape)} has an empty dimension.")
            r.params = int(spec.count_params(p, r.in_shapes, r.shape))
            r.macs = int(spec.count_macs(p, r.in_shapes, r.shape))
        except _Blocked:
            r.blocked = True
        except ShapeError as e:
            r.shape = None
            r.error = str(e)
            by_node.setdefault(nid, []).append(Issue(str(e), node=nid, field=_field(e), fix=e.fix))
    for nid in ids:  # nodes in cycles never get into the order
        if nid not in reports:
            own = by_node.get(nid) or [Issue("is part of a cycle.", node=nid, field="inputs")]
            reports[nid] = NodeReport(nid, nodes[nid].op if has_op(nodes[nid].op) else nodes[nid].op,
                                      error=own[0].message)
    seen_ids: set[str] = set()
    for nid in ids:
        if nid in seen_ids:
            continue
        seen_ids.add(nid)
        errors.extend(by_node.get(nid, []))
    errors.extend(i for i in graph_level if not i.node)
    ordered = {nid: reports[nid] for nid in ids}
    return Report(ok=not errors, errors=errors, nodes=ordered, order=order, normalised=normalised)


def _field(e: ShapeError) -> str | None:
    return f"params.{e.field}" if e.field else None
