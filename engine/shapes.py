"""The live check: every node's output shape (or the error that explains why not), params, MACs, memory.

`check` never raises on a bad graph: the canvas calls it on every edit, half-wired graphs included. One error
does not hide independent errors elsewhere; nodes downstream of an error are marked `blocked`, not failed.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from engine.catalog import get_op
from engine.catalog.arith import fmt_shape
from engine.errors import GraphError, Issue, ShapeError
from engine.graph import (
    Graph,
    Node,
    graph_issues,
    inspect_node,
    lift,
    looks_like_json,
    parse,
    parse_partial,
    read_graph_file,
    topo_order,
)
from engine.limits import MAX_ELEMENTS, MAX_RANK
from engine.lm import task_issues
from engine.modules import flatten, uses_modules
from engine.suggest import Suggester

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
    blocked: bool = False
    dtype: str = "float32"  # int64 only for token ids (an int64 Input), which only Embedding turns into floats  # an upstream node has an error, so this node's shape is unknown

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, "shape": list(self.shape) if self.shape else None,
                "in_shapes": [list(s) for s in self.in_shapes], "params": self.params, "macs": self.macs,
                "error": self.error, "blocked": self.blocked, "dtype": self.dtype}


@dataclass
class Report:
    ok: bool
    errors: list[Issue]
    nodes: dict[str, NodeReport]
    order: list[str] = field(default_factory=list)  # dependency order of the nodes that have one
    normalised: dict[str, dict[str, Any]] = field(default_factory=dict)  # params after normalisation, per node
    flat: Report | None = None  # a graph with module instances: the report of its flat graph (engine.modules)

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes.values())

    @property
    def total_macs(self) -> int:
        return sum(n.macs for n in self.nodes.values())

    def activation_count(self) -> int:
        """Elements of every node's output for one sample (what a forward pass keeps for backward)."""
        if self.flat is not None:
            return self.flat.activation_count()
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


def check(source: Any) -> Report:
    """Graph, dict, JSON text or a path (os.PathLike) -> Report. Never raises for a bad graph."""
    if isinstance(source, os.PathLike):
        try:
            source = read_graph_file(source)  # bounded: a device or a pipe is refused, never read
        except GraphError as e:
            return Report(ok=False, errors=e.issues, nodes={})
    g, structural, dropped = parse_partial(source)
    if g is None:
        return Report(ok=False, errors=structural, nodes={})
    if uses_modules(g):
        return _check_modules(g, structural, dropped)
    return _check(g, structural, dropped)


def _check_modules(g: Graph, structural: list[Issue], dropped: set[str]) -> Report:
    """Check the flat graph (every instance inlined), then report per top-level node: an instance shows its
    output shape, its inner params and MACs summed, and the first inner problem naming the inner node."""
    flat = flatten(g)
    fr = _check(flat.graph, [], dropped | flat.unresolved)
    by_top: dict[str, list[Issue]] = {}
    errors = list(structural) + list(flat.issues)
    for i in flat.issues:
        if i.node:
            by_top.setdefault(i.node, []).append(i)
    for i in fr.errors:
        lifted = lift(flat, i)
        errors.append(lifted)
        if lifted.node and lifted is not i:
            by_top.setdefault(lifted.node, []).append(lifted)
    reports: dict[str, NodeReport] = {}
    normalised: dict[str, dict[str, Any]] = {}
    inner_of: dict[str, list[str]] = {}
    for fid, top in flat.owner.items():
        if fid in fr.nodes:
            inner_of.setdefault(top, []).append(fid)
    for n in g.nodes:
        if n.id in reports:
            continue
        inst = flat.instances.get(n.id)
        if inst is None:
            if n.id in fr.nodes:
                reports[n.id] = fr.nodes[n.id]
                if n.id in fr.normalised:
                    normalised[n.id] = fr.normalised[n.id]
            continue
        r = reports[n.id] = NodeReport(n.id, n.op)
        normalised[n.id] = dict(inst.args)
        inner = inner_of.get(n.id, [])
        r.params = sum(fr.nodes[f].params for f in inner)
        r.macs = sum(fr.nodes[f].macs for f in inner)
        out = fr.nodes.get(inst.output) if inst.output else None
        ins = [fr.nodes.get(s) for s in inst.inputs]
        r.in_shapes = [u.shape for u in ins if u is not None and u.shape is not None]
        if n.id in by_top:
            r.error = by_top[n.id][0].message
        elif out is None or out.shape is None:
            r.blocked = True
        else:
            r.shape, r.dtype = out.shape, out.dtype
        if r.error or r.blocked:
            r.shape = None
    order = [nid for nid in topo_order(g) if nid in reports]
    return Report(ok=not errors, errors=errors, nodes=reports, order=order, normalised=normalised, flat=fr)


def _check(g: Graph, structural: list[Issue], dropped: set[str]) -> Report:
    nodes: dict[str, Node] = {}
    for n in g.nodes:
        nodes.setdefault(n.id, n)
    ids = set(nodes) | dropped
    by_node: dict[str, list[Issue]] = {}  # every issue that names a node, by node
    loose: list[Issue] = []  # issues of the graph as a whole
    normalised: dict[str, dict[str, Any]] = {}
    for i in structural:
        (by_node.setdefault(i.node, []) if i.node else loose).append(i)
    hints = Suggester(ids)  # one budget for every "did you mean" of this check
    for n in g.nodes:
        own, p = inspect_node(n, ids, nodes, hints)
        if own:
            by_node.setdefault(n.id, []).extend(own)
        if p is not None and n.id not in normalised:
            normalised[n.id] = p
    order = topo_order(g)
    for i in graph_issues(g, order=order, ids=ids, hints=hints):
        (by_node.setdefault(i.node, []) if i.node else loose).append(i)
    reports: dict[str, NodeReport] = {}
    for nid in order:
        reports[nid] = r = NodeReport(nid, nodes[nid].op)
        if nid in by_node:
            r.error = by_node[nid][0].message
            continue
        _infer_node(nodes[nid], normalised[nid], r, reports, by_node)
    for nid in nodes:  # nodes in or downstream of a cycle never get into the order
        if nid not in reports:
            own = by_node.get(nid)
            reports[nid] = NodeReport(nid, nodes[nid].op, error=own[0].message if own else None, blocked=not own)
    for i in task_issues(g, reports, normalised):  # what the graph's task asks of it (engine.lm)
        by_node.setdefault(i.node, []).append(i)
        if reports[i.node].error is None:
            reports[i.node].error = i.message
    errors = [i for nid in nodes for i in by_node.get(nid, ())]
    errors += [i for key, issues in by_node.items() if key not in nodes for i in issues]  # dropped, unnamed nodes
    errors += loose
    ordered = {nid: reports[nid] for nid in nodes}
    return Report(ok=not errors, errors=errors, nodes=ordered, order=order, normalised=normalised)


def checked(source: Any) -> tuple[Graph, Report]:
    """(Graph, Report) of a design without any problem; otherwise GraphError listing every problem (file, wiring
    and shapes together). `source` as for load_graph: a path, JSON text, dict or Graph."""
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not looks_like_json(source)):
        source = read_graph_file(source)  # GraphError saying why the file cannot be read
    report = check(source)
    if not report.ok:
        raise GraphError(report.errors)
    g, _ = parse(source)
    return g, report


def _infer_node(n: Node, p: dict[str, Any], r: NodeReport, reports: dict[str, NodeReport],
                by_node: dict[str, list[Issue]]) -> None:
    """Fill r's shape, params and MACs from its inputs' reports, or mark it blocked, or record its ShapeError."""
    spec = get_op(n.op)
    ins = []
    for s in n.inputs:
        u = reports.get(s)
        if u is None or u.shape is None:
            r.blocked = True
            return
        ins.append(u.shape)
    r.in_shapes = ins
    try:
        r.dtype = _dtype(n, p, [reports[s].dtype for s in n.inputs])
        ctx_ins = list(ins)
        for name in spec.ref_params:  # a referenced node contributes its input and output shapes
            ref = reports.get(p[name])
            if ref is None or ref.shape is None or not ref.in_shapes:
                r.blocked = True
                return
            ctx_ins += [ref.in_shapes[0], ref.shape]
        shape = tuple(spec.infer(p, ctx_ins))
        if any(d <= 0 for d in shape):
            raise ShapeError(f"output shape {fmt_shape(shape)} has an empty dimension.")
        _check_size(shape)
        r.shape = shape
        r.params = int(spec.count_params(p, ins, shape))
        r.macs = int(spec.count_macs(p, ins, shape))
    except ShapeError as e:
        r.shape = None
        r.params = r.macs = 0
        r.error = str(e)
        by_node.setdefault(n.id, []).append(Issue(str(e), node=n.id, field=_field(e), fix=e.fix))


def _check_size(shape: Shape) -> None:
    """Refuse a tensor no machine could hold (engine/limits.py), before any size reaches code or a message."""
    if len(shape) > MAX_RANK:
        raise ShapeError(f"output has {len(shape)} dimensions, more than the limit of {MAX_RANK} (batch excluded).")
    n = math.prod(shape)
    if n > MAX_ELEMENTS:
        raise ShapeError(f"output shape {fmt_shape(shape)} holds {n:,} values per sample, more than the limit of "
                         f"{MAX_ELEMENTS:,} (2^32). Make the input or the layer smaller.")


def _dtype(n: Node, p: dict[str, Any], in_dtypes: list[str]) -> str:
    """The node's output dtype; token ids (int64) may only reach an op that looks them up (OpSpec.token_ids)."""
    if n.op == "Input":
        return p.get("dtype", "float32")
    rule = get_op(n.op).token_ids
    if rule == "lookup":
        if in_dtypes and in_dtypes[0] != "int64":
            raise ShapeError(f"{n.op} looks up integer token ids, but its input '{n.inputs[0]}' is "
                             f"{in_dtypes[0]}. Set the Input's dtype to int64, or use Linear for float features.")
        return "float32"
    if "int64" in in_dtypes:
        if rule == "pass":
            return "int64"
        src = n.inputs[in_dtypes.index("int64")]
        raise ShapeError(f"{n.op} receives integer token ids from '{src}' (int64). Insert an Embedding to turn "
                         f"token ids into vectors first.")
    return "float32"


def _field(e: ShapeError) -> str | None:
    return f"params.{e.field}" if e.field else None
