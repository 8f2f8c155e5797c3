"""Edits of a design, as pure functions on graph-file dicts (graph in, new graph out; the input is never mutated).

The canvas sends its whole structure after each committed action (`graph_from_canvas`); the Design page's
buttons and forms call the others. None of them checks shapes: engine.check does that on the result.

They work on dicts, not on engine.graph.Graph, because a design being edited is often not a valid graph yet (an
unknown op, a dangling input) and must still be editable. What a node reads comes from engine.wiring's
`dependencies`, seen through `NodeView`, so edits, the checks and the layout agree on one dependency order.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.catalog import get_op, has_op
from engine.wiring import dependencies as _wiring_dependencies
from engine.wiring import ref_params

Design = dict[str, Any]


class CanvasError(ValueError):
    """A canvas message that does not describe a graph (a bug in the frontend, never the user's fault)."""


@dataclass(frozen=True)
class NodeView:
    """A graph-file node dict as engine.wiring's Node protocol reads it (id, op, params, inputs); no validation,
    so half-built designs can be walked too."""

    id: str
    op: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, node: dict[str, Any]) -> NodeView:
        params, inputs = node.get("params"), node.get("inputs")
        return cls(node["id"], node["op"], params if isinstance(params, dict) else {},
                   inputs if isinstance(inputs, list) else [])


@dataclass(frozen=True)
class GraphView:
    """Node dicts as engine.wiring's Graph protocol (for `topo_order` and the layout)."""

    nodes: Sequence[NodeView]
    outputs: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, nodes: list[dict[str, Any]], outputs: list[str] | None = None) -> GraphView:
        return cls([NodeView.of(n) for n in nodes], list(outputs or []))


_NO_GRAPH = GraphView([])  # wiring.dependencies reads only the node; its graph argument is for the protocol


def dependencies(node: dict[str, Any]) -> list[str]:
    """Ids a node dict reads: its inputs, then node references in its params (MaxUnpool2d's pool). Empty
    references (a pool not chosen yet) are not dependencies."""
    return [d for d in _wiring_dependencies(_NO_GRAPH, NodeView.of(node)) if d]


def _consumed(nodes: list[dict]) -> set[str]:
    return {d for n in nodes for d in dependencies(n)}


def sinks(nodes: list[dict]) -> list[str]:
    """Non-Input nodes nothing reads from, in file order: the natural outputs of a network."""
    used = _consumed(nodes)
    return [n["id"] for n in nodes if n["id"] not in used and n["op"] != "Input"]


def _downstream_sinks(nodes: list[dict], start: str) -> list[str]:
    readers: dict[str, list[str]] = {}
    for n in nodes:
        for d in dependencies(n):
            readers.setdefault(d, []).append(n["id"])
    seen, stack = {start}, [start]
    while stack:
        for r in readers.get(stack.pop(), []):
            if r not in seen:
                seen.add(r)
                stack.append(r)
    return [s for s in sinks(nodes) if s in seen]


def update_outputs(old: Design, nodes: list[dict]) -> list[str]:
    """The outputs after an edit. An output that just gained a reader hands its role to the sinks below it (the
    user extended the network past it); deleted outputs drop out; when none is left, every sink is an output.
    An output that already had readers before the edit was chosen on purpose and stays."""
    ids = {n["id"] for n in nodes}
    before = _consumed(old.get("nodes", []))
    after = _consumed(nodes)
    out: list[str] = []
    for o in old.get("outputs", []):
        if o not in ids:
            continue
        if o in after and o not in before:
            out.extend(_downstream_sinks(nodes, o))
        else:
            out.append(o)
    if not out:
        out = sinks(nodes)
    return list(dict.fromkeys(out))


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CanvasError(f"{what} must be a finite number. Received: {what}={v!r}.")
    return round(float(v), 1)


def graph_from_canvas(old: Design, canvas_nodes: list[Any]) -> Design:
    """The canvas's nodes ({id, op, params, inputs, x, y}, in canvas order) -> the new graph-file dict.

    Name, task and every node's ui extras (group, comment) carry over from `old`; outputs follow
    `update_outputs`. Raises CanvasError for a message that is not a list of such nodes."""
    if not isinstance(canvas_nodes, list):
        raise CanvasError(f"canvas nodes must be a list. Received: {type(canvas_nodes).__name__}.")
    prev = {n["id"]: n for n in old.get("nodes", [])}
    nodes: list[dict] = []
    for i, cn in enumerate(canvas_nodes):
        if not isinstance(cn, dict) or not isinstance(cn.get("id"), str) or not isinstance(cn.get("op"), str):
            raise CanvasError(f"canvas node {i} needs a text id and op. Received: {cn!r}.")
        params, inputs = cn.get("params") or {}, cn.get("inputs") or []
        if not isinstance(params, dict) or not isinstance(inputs, list) or not all(isinstance(s, str) for s in inputs):
            raise CanvasError(f"canvas node '{cn['id']}' has malformed params or inputs. Received: {cn!r}.")
        n: dict[str, Any] = {"id": cn["id"], "op": cn["op"]}
        if params:
            n["params"] = copy.deepcopy(params)
        if inputs:
            n["inputs"] = list(inputs)
        ui = dict(prev.get(cn["id"], {}).get("ui") or {})
        ui["x"], ui["y"] = _num(cn.get("x", 0), "x"), _num(cn.get("y", 0), "y")
        n["ui"] = ui
        nodes.append(n)
    g = {k: copy.deepcopy(v) for k, v in old.items() if k not in ("nodes", "outputs")}
    g["nodes"] = nodes
    g["outputs"] = update_outputs(old, nodes)
    return g


def _node(g: Design, node_id: str) -> dict:
    for n in g["nodes"]:
        if n["id"] == node_id:
            return n
    raise KeyError(f"no node '{node_id}' in the design.")


def delete_nodes(g: Design, ids: list[str] | set[str]) -> Design:
    """Remove nodes and every connection to them (inputs close up, references are cleared)."""
    gone = set(ids)
    out = copy.deepcopy(g)
    out["nodes"] = [n for n in out["nodes"] if n["id"] not in gone]
    for n in out["nodes"]:
        if "inputs" in n:
            n["inputs"] = [s for s in n["inputs"] if s not in gone]
            if not n["inputs"]:
                del n["inputs"]
        for name in ref_params(n["op"]):
            if n.get("params", {}).get(name) in gone:
                n["params"][name] = ""
    out["outputs"] = update_outputs(g, out["nodes"])
    return out


def set_params(g: Design, node_id: str, params: dict[str, Any]) -> Design:
    """Replace a node's params; values equal to the catalog default are left out to keep the file short (node
    references are kept even when empty: the form shows them as 'not chosen yet')."""
    out = copy.deepcopy(g)
    n = _node(out, node_id)
    defaults = {p.name: p.default for p in get_op(n["op"]).params} if has_op(n["op"]) else {}
    refs = ref_params(n["op"])
    kept = {k: v for k, v in params.items() if k not in defaults or v != defaults[k] or k in refs}
    if kept:
        n["params"] = kept
    else:
        n.pop("params", None)
    return out


def rename_node(g: Design, old_id: str, new_id: str) -> Design:
    """Give a node a new id and update everything that names it (inputs, references, outputs)."""
    new_id = new_id.strip()
    if not new_id:
        raise ValueError("a node id must not be empty. Received: ''.")
    if new_id != old_id and any(n["id"] == new_id for n in g["nodes"]):
        raise ValueError(f"the id '{new_id}' is already taken; every node needs its own id. Received: {new_id!r}.")
    out = copy.deepcopy(g)
    for n in out["nodes"]:
        if n["id"] == old_id:
            n["id"] = new_id
        if "inputs" in n:
            n["inputs"] = [new_id if s == old_id else s for s in n["inputs"]]
        for name in ref_params(n["op"]):
            if n.get("params", {}).get(name) == old_id:
                n["params"][name] = new_id
    out["outputs"] = [new_id if o == old_id else o for o in out.get("outputs", [])]
    return out


def set_output(g: Design, node_id: str, is_output: bool) -> Design:
    """Mark or unmark a node as one of the network's outputs (order: file order of the nodes)."""
    out = copy.deepcopy(g)
    _node(out, node_id)
    chosen = set(out.get("outputs", []))
    chosen.add(node_id) if is_output else chosen.discard(node_id)
    out["outputs"] = [n["id"] for n in out["nodes"] if n["id"] in chosen]
    return out


def add_nodes(g: Design, nodes: list[dict]) -> Design:
    """Append nodes (e.g. a composite block); outputs follow `update_outputs` (a block appended to an output
    takes over its role)."""
    out = copy.deepcopy(g)
    out["nodes"] = out["nodes"] + copy.deepcopy(nodes)
    out["outputs"] = update_outputs(g, out["nodes"])
    return out


def set_op(g: Design, node_id: str, op: str, params: dict[str, Any] | None = None) -> Design:
    """Give a node another op (e.g. ReLU -> LeakyReLU), keeping its id, inputs and place; its params become
    `params` (the new op's defaults when None)."""
    if not has_op(op):
        raise ValueError(f"unknown op {op!r}; use an op of the catalog (python -m engine docs lists them).")
    out = copy.deepcopy(g)
    n = _node(out, node_id)
    n["op"] = op
    n.pop("params", None)
    if params:
        n["params"] = copy.deepcopy(params)
    return out
