"""The importer's walk over a traced model: each fx node becomes graph nodes, an alias, a constant or a refusal.

Values flowing between fx nodes (`env`): a graph node id (str) for a tensor; a _Const for numbers computed from
sizes (x.size(0)); a _Many for a call that returned a tuple; Indices / Refused for parts of a tuple; MISSING for
anything downstream of a refused call (that refusal already explains it, so it is not reported twice).
"""
from __future__ import annotations

import operator
from collections import Counter
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from engine.catalog import get_op, has_op
from engine.catalog.registry import coerce
from engine.codegen import Namespace
from engine.errors import ParamError
from engine.fx import recurrent, tensor_ops  # noqa: F401  (registration side effects)
from engine.fx.convert import (
    PREV,
    Alias,
    Call,
    Emit,
    Refused,
    TensorFact,
    Unsupported,
    call_label,
    converter_for,
    has_tensor,
)
from engine.fx.state import STATE

SOURCE_PREFIX = "source: "  # ui.comment of a node made from a module call: "source: layer1.0.conv1"
MISSING = object()
_CONTAINER_FORWARDS = (nn.Sequential.forward, nn.Module.forward)  # containers that only hold (no forward of their own)
_SHAPE_ATTRS = {"shape", "ndim", "dtype", "device"}
_SHAPE_METHODS = {"size", "dim", "numel", "ndimension"}


def _prune(op: str, params: dict[str, Any], keep: tuple[str, ...]) -> dict[str, Any]:
    """Only the params that differ from the catalog's defaults (plus `keep`), so files stay short."""
    spec = get_op(op)
    out = {}
    for name, value in params.items():
        prm = spec.param(name)
        try:
            same = coerce(prm, value) == coerce(prm, prm.default)
        except ParamError:
            same = False  # let validation name the problem
        if name in keep or not same:
            out[name] = value
    return out


@dataclass(frozen=True)
class _Const:
    """A number computed from sizes (x.size(0)): never a node, only ever an argument of another call."""

    value: Any


@dataclass(frozen=True)
class TensorAttr:
    """A tensor attribute of the model (self.layer_scale): a layer's weight when a rewrite consumes it (LayerScale,
    LayerNorm2d), refused as 'a tensor attribute used directly' wherever else it is used."""

    target: str


ATTR_LABEL = "a tensor attribute used directly"


@dataclass(frozen=True)
class _Many:
    """A call that returned a tuple (MaxPool2d with indices, LSTM): what indexing it gives."""

    items: tuple[Any, ...]


class Builder:
    """Walks the fx graph once, turning each call into graph nodes (or a refusal)."""

    def __init__(self, root: nn.Module, gm: fx.GraphModule, facts: dict, shapes: list[tuple[int, ...]]):
        self.root, self.gm, self.facts, self.shapes = root, gm, facts, shapes
        self.ns = Namespace()  # node ids that codegen keeps unchanged as attribute names
        self.env: dict[fx.Node, Any] = {}
        self.nodes: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.expected: dict[str, tuple[int, ...]] = {}  # graph id -> the per-sample shape torch computed
        self.refused: Counter[str] = Counter()
        self.outputs: list[str] = []
        self.absorbed: dict[fx.Node, fx.Node] = {}

    def run(self) -> None:
        inputs = 0
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                params: dict[str, Any] = {"shape": list(self.shapes[inputs])}
                if getattr(self.facts.get(node), "dtype", None) == torch.int64:
                    params["dtype"] = "int64"  # token ids (engine.fx.importer.token_vocab)
                gid = self._add({"op": "Input", "params": params}, node.name)
                self.expected[gid] = self.shapes[inputs]
                self.env[node] = gid
                inputs += 1
            elif node.op == "output":
                self._output(node.args[0])
            elif node.op == "get_attr":  # a parameter used directly: only a rewrite's converter may take it
                self.env[node] = TensorAttr(node.target)
            else:
                self._call(node)

    # -- one call ------------------------------------------------------------------------------------------------
    def _call(self, node: fx.Node) -> None:
        if node in self.absorbed:
            self.env[node] = self.env.get(self.absorbed[node], MISSING)
            return
        if node.meta.get(STATE):  # the state a stateful recurrent layer keeps: that layer's own business
            self.env[node] = MISSING
            return
        module = self.root.get_submodule(node.target) if node.op == "call_module" else None
        label = call_label(node, module)
        if node.op == "call_function" and node.target is operator.getitem:
            source = self.env.get(node.args[0], MISSING)
            if source is MISSING:  # a part of a refused call's result: that refusal already explains it
                self.env[node] = MISSING
                return
            if isinstance(source, _Many):
                index = node.args[1]
                if isinstance(index, int) and -len(source.items) <= index < len(source.items):
                    self.env[node] = source.items[index]
                elif isinstance(index, slice):
                    self.env[node] = _Many(source.items[index])
                else:
                    self._refuse(f"{label} with index {index!r} into a tuple result", node)
                return
        for used in node.all_input_nodes:  # e.g. an LSTM's (h, c), refused where it is used
            if isinstance(self.env.get(used), Refused):
                self.refused[self.env[used].label] += 1
        fact = self.facts.get(node)
        if module is None and not has_tensor(fact):
            if self._is_shape_arithmetic(node):
                self.env[node] = _Const(fact)
            else:
                self._refuse(label, node)
            return
        convert = converter_for(node, module)
        if convert is None:
            self._refuse(label, node)
            return
        try:
            result = convert(Call(node, module, self.facts, self))
        except Unsupported as e:
            self._refuse(e.label, node)
            return
        if isinstance(result, Alias):
            self.env[node] = self.env.get(result.source, MISSING)
            return
        self._emit(node, result if isinstance(result, list) else [result], module, label)

    def _is_shape_arithmetic(self, node: fx.Node) -> bool:
        """Numbers computed from sizes (x.size(0), x.shape[2] // 2) are fine; values read from data (.item()) not."""
        if node.op == "call_method" and node.target in _SHAPE_METHODS:
            return True
        if node.op == "call_function" and node.target is getattr and node.args[1] in _SHAPE_ATTRS:
            return True
        used = node.all_input_nodes
        return all(isinstance(self.env.get(u), _Const) for u in used)

    def _emit(self, node: fx.Node, emits: list[Emit], module: nn.Module | None, label: str) -> None:
        for x in (x for e in emits for x in e.inputs if x is not PREV):
            v = self.env.get(x, MISSING)
            if v is MISSING or isinstance(v, Refused):  # downstream of a refusal, which explains it already
                self.env[node] = MISSING
                return
            if isinstance(v, TensorAttr):
                self._refuse(label, node)
                return
            if not isinstance(v, str):
                self._refuse(f"{label} fed by a non-tensor value", node)
                return
        if not all(has_op(e.op) for e in emits):
            self._refuse(label, node)
            return
        group = self._group(node)
        gid = ""
        gids: list[str] = []
        many = all(e.one_of_many for e in emits)
        for i, e in enumerate(emits):
            last = i == len(emits) - 1
            ins = [gid if x is PREV else self.env[x] for x in e.inputs]
            d: dict[str, Any] = {"op": e.op, "params": _prune(e.op, e.params, e.keep), "inputs": ins}
            ui: dict[str, Any] = {}
            if e.source is not None:
                ui["comment"] = SOURCE_PREFIX + e.source
            elif last and module is not None:
                ui["comment"] = SOURCE_PREFIX + node.target
            if group and group != e.source:  # a block that became this one op (an RBM module) is no module
                ui["group"] = group
            if ui:
                d["ui"] = ui
            name = f"{node.name}_part{i}" if many else node.name if last else f"{node.name}_{e.op.lower()}"
            gid = self._add(d, name, node.name if last and not many else f"{node.name}\0{i}")
            gids.append(gid)
        fact = self.facts.get(node)
        if many:  # one node per item of the tuple the call returned (x.chunk)
            for g, f in zip(gids, fact if isinstance(fact, tuple) else ()):
                if isinstance(f, TensorFact):
                    self.expected[g] = f.shape[1:]
            self.env[node] = _Many(tuple(gids))
            return
        if isinstance(fact, tuple) and fact and isinstance(fact[0], TensorFact):
            fact = fact[0]
        if emits[-1].expect is not None:
            self.expected[gid] = tuple(emits[-1].expect)
        elif isinstance(fact, TensorFact):
            self.expected[gid] = fact.shape[1:]
        self.env[node] = _Many(emits[-1].results(gid)) if emits[-1].results else gid

    def absorb(self, user: fx.Node, into: fx.Node) -> None:
        """`user` (e.g. the reshape of a permute+reshape pair) is part of the op `into` became: alias it."""
        self.absorbed[user] = into

    def _add(self, d: dict[str, Any], name: str, key: str | None = None) -> str:
        gid = self.ns.create_name(name, key or name)  # key: one id per emitted node, even when names repeat
        d = {"id": gid, **d}
        self.nodes.append(d)
        self.by_id[gid] = d
        return gid

    def _group(self, node: fx.Node) -> str | None:
        """The outermost enclosing module with a forward of its own (a block, not a mere container such as a plain
        Sequential): 'layer1.0' for layer1.0.conv1, 'inception3a' for inception3a.branch2.0.conv."""
        stack = node.meta.get("nn_module_stack")
        if stack:
            paths = [(v[0] if isinstance(v, tuple) else k).split("@")[0] for k, v in stack.items()]
        elif node.op == "call_module":
            parts = node.target.split(".")
            paths = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        else:
            return None
        if node.op == "call_module" and paths and paths[-1] == node.target:
            paths = paths[:-1]
        for path in paths:
            try:
                if type(self.root.get_submodule(path)).forward not in _CONTAINER_FORWARDS:
                    return path
            except AttributeError:
                return None
        return None

    def _refuse(self, label: str, node: fx.Node) -> None:
        self.refused[label] += 1
        for used in node.all_input_nodes:  # the parameters it would have used are refused with it, once each
            v = self.env.get(used)
            if isinstance(v, TensorAttr):
                self.refused[ATTR_LABEL] += 1
                self.env[used] = MISSING
        self.env[node] = MISSING

    def _output(self, arg: Any) -> None:
        items = list(arg.values()) if isinstance(arg, dict) else list(arg) if isinstance(arg, (list, tuple)) else [arg]
        for item in items:
            v = self.env.get(item, MISSING) if isinstance(item, fx.Node) else _Const(item)
            if isinstance(v, str):
                self.outputs.append(v)
            elif isinstance(v, Refused):
                self.refused[v.label] += 1
            elif v is not MISSING:
                self.refused["an output that is not a tensor"] += 1

    # -- hooks converters may call --------------------------------------------------------------------------------
    def value(self, node: fx.Node) -> Any:
        """The graph value of an fx node: a node id, Indices(pool), Refused(label), or a _Const."""
        return self.env.get(node, MISSING)

    def last_step(self, c: Call, seq: fx.Node) -> Alias:
        """seq[:, -1] where seq is a recurrent node's full sequence: make that node return its last step instead."""
        gid = self.env.get(seq)
        d = self.by_id.get(gid) if isinstance(gid, str) else None
        users = [n for n in self.nodes if gid in n.get("inputs", [])] if d else []
        if d is None or d["op"] not in ("LSTM", "GRU") or d["params"].get("bidirectional") or users \
                or len(seq.users) != 1:
            raise Unsupported("tensor indexing x[…]")
        d["params"] = _prune(d["op"], {**d["params"], "return_sequence": False}, ("hidden_size",))
        self.expected[gid] = c.full_out[1:]
        return Alias(seq)


