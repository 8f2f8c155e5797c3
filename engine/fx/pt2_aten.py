"""A .pt2 made elsewhere, read as data: its program (models/model.json, aten ops) mapped to catalog ops.

torch.export.load would unpickle and evaluate parts of the file (see engine/fx/pt2.py), so this reads the
serialized program as plain JSON: each node names an aten op and its arguments by name, and `tensor_values` gives
every tensor's traced shape (the batch symbolic, the rest integers). Parameters and buffers are the program's
inputs, named by `input_specs`; their bytes come from pt2's raw-weight reader. Nothing in the file is executed.

The ops understood are those torch.export writes for the layers the catalog has (conv2d, linear, batch_norm,
pools, activations, add/mul/cat, flatten/view/reshape, layer_norm, softmax, dropout; in-place variants alike);
anything else is refused, each op once with its count, like engine.import_model.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import torch

from engine.codegen import Namespace, node_names
from engine.errors import GraphError
from engine.graph import Graph, load_graph
from engine.shapes import check

_ELEMENTWISE = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "silu": "SiLU", "hardswish": "Hardswish",
                "hardsigmoid": "Hardsigmoid", "relu6": "ReLU6", "elu": "ELU"}


_SIZES = {"sym_size", "sym_numel", "sym_stride", "sym_storage_offset"}


class AtenError(ValueError):
    """The program cannot become a graph; the message says why."""


class _Node:
    """One serialized call: its aten name ('conv2d'), arguments by name, and its output tensor names."""

    def __init__(self, d: dict[str, Any]):
        target = d.get("target", "")
        parts = target.split(".") if isinstance(target, str) else []
        self.label = ".".join(parts[3:]) if parts[:3] == ["torch", "ops", "aten"] else str(target)[:80]
        self.op = parts[3] if parts[:3] == ["torch", "ops", "aten"] and len(parts) == 5 else None
        self.args = {i["name"]: i["arg"] for i in d.get("inputs", []) if isinstance(i, dict) and "name" in i}
        outs = d.get("outputs", [])
        self.outputs = [o["as_tensor"]["name"] for o in outs if isinstance(o, dict) and "as_tensor" in o]

    def tensor(self, name: str) -> str | None:
        a = self.args.get(name)
        return a["as_tensor"]["name"] if isinstance(a, dict) and "as_tensor" in a else None

    def value(self, name: str, default: Any = None) -> Any:
        a = self.args.get(name)
        if not isinstance(a, dict) or not a or "as_none" in a:
            return default
        (kind, v), = a.items()
        if kind == "as_tensors":
            return [t["name"] for t in v]
        if kind in ("as_int", "as_ints", "as_float", "as_floats", "as_bool", "as_string"):
            return v
        raise AtenError(f"argument {name} of aten.{self.label} is a {kind}")


def convert(program: dict[str, Any], weights: dict[str, torch.Tensor], name: str) -> tuple[Graph, dict]:
    """(graph, state_dict for build_module(graph)) from a serialized ExportedProgram."""
    try:
        gm = program["graph_module"]
        graph, specs = gm["graph"], gm["signature"]["input_specs"]
        values = graph["tensor_values"]
        nodes = [_Node(d) for d in graph["nodes"]]
        outputs = [o["user_output"]["arg"]["as_tensor"]["name"] for o in gm["signature"]["output_specs"]]
    except (KeyError, TypeError, ValueError) as e:
        raise AtenError(f"{name}: models/model.json is not a torch.export program ({type(e).__name__}: {e}).") \
            from e
    fqn: dict[str, str] = {}  # program input name -> parameter or buffer name (state_dict key)
    users: list[str] = []
    for spec in specs:
        (kind, s), = spec.items()
        if kind == "parameter":
            fqn[s["arg"]["name"]] = s["parameter_name"]
        elif kind == "buffer":
            fqn[s["arg"]["name"]] = s["buffer_name"]
        elif kind == "user_input" and "as_tensor" in s["arg"]:
            users.append(s["arg"]["as_tensor"]["name"])
        else:
            raise AtenError(f"{name}: the program takes a {kind} input, which has no graph equivalent.")
    b = _Builder(values, fqn, weights)
    for u in users:
        b.input(u)
    for n in nodes:
        b.call(n)
    if b.refused:
        listed = ", ".join(f"{op} ({k}×)" for op, k in b.refused.most_common(8))
        more = len(b.refused) - 8
        raise AtenError(f"cannot import {name}: unsupported ops {listed}"
                        + (f" and {more} more kind(s)" if more > 0 else "") + ". The catalog has no op for them.")
    missing = [o for o in outputs if o not in b.env]
    if missing:
        raise AtenError(f"cannot import {name}: its output {missing[0]} is not a tensor the graph computes.")
    d = {"format": "convas-graph", "version": 1, "name": name.rsplit(".", 1)[0] or "imported", "nodes": b.nodes,
         "outputs": [b.env[o] for o in outputs]}
    try:
        g = load_graph(d)
    except GraphError as e:
        raise AtenError(f"cannot import {name}: the graph it maps to is invalid: {e}") from e
    r = check(g)
    if not r.ok:
        raise AtenError(f"cannot import {name}: the mapped graph fails the shape check: {r.errors[0]}")
    wrong = [gid for gid, shape in b.expected.items() if r.nodes[gid].shape != shape]
    if wrong:
        raise AtenError(f"cannot import {name}: the engine's shapes disagree with the program's at {wrong[0]}.")
    attrs = node_names(g, r)
    state = {f"{attrs[gid]}.{leaf}": t for gid, leaves in b.state.items() for leaf, t in leaves.items()}
    return g, state


class _Builder:
    def __init__(self, values: dict, fqn: dict[str, str], weights: dict[str, torch.Tensor]):
        self.values, self.fqn, self.weights = values, fqn, weights
        self.ns = Namespace()
        self.env: dict[str, str] = {}  # program tensor name -> graph node id
        self.nodes: list[dict[str, Any]] = []
        self.expected: dict[str, tuple[int, ...]] = {}
        self.state: dict[str, dict[str, torch.Tensor]] = {}
        self.refused: Counter[str] = Counter()

    def shape(self, tensor: str) -> tuple[int, ...]:
        sizes = self.values[tensor]["sizes"]
        if not sizes or not all("as_int" in s for s in sizes[1:]):
            raise AtenError(f"tensor {tensor} has a symbolic size other than the batch")
        return tuple(int(s["as_int"]) for s in sizes[1:])

    def input(self, tensor: str) -> None:
        if self.values[tensor].get("dtype") != 7:
            raise AtenError("only float32 inputs are imported")
        self._add(tensor, "Input", {"shape": list(self.shape(tensor))}, [], tensor)

    def _add(self, name: str, op: str, params: dict, inputs: list[str], out: str,
             state: dict[str, torch.Tensor] | None = None) -> None:
        gid = self.ns.create_name(name, out)
        d: dict[str, Any] = {"id": gid, "op": op, "params": params}
        if op != "Input":
            d["inputs"] = inputs
        self.nodes.append(d)
        self.env[out] = gid
        self.expected[gid] = self.shape(out)
        if state:
            self.state[gid] = state

    def _weights(self, node: _Node, *names: str) -> tuple[str, dict[str, torch.Tensor]]:
        """(the owning module's path, {leaf: tensor}) for the named tensor arguments that are parameters."""
        found: dict[str, torch.Tensor] = {}
        owner = ""
        for arg in names:
            t = node.tensor(arg)
            if t is None:
                continue
            key = self.fqn.get(t)
            if key is None or key not in self.weights:
                raise AtenError(f"aten.{node.label}'s {arg} is computed, not a stored weight")
            owner, _, leaf = key.rpartition(".")
            found[leaf] = self.weights[key]
        if "running_mean" in found and f"{owner}.num_batches_tracked" in self.weights:
            found["num_batches_tracked"] = self.weights[f"{owner}.num_batches_tracked"]
        return owner, found

    def call(self, n: _Node) -> None:
        if n.op in _SIZES:
            return  # x.size(0): a number for a view; the view's own traced shape is what the graph uses
        rule = _RULES.get((n.op or "").rstrip("_"))  # relu_, add_: in place, the same op in a graph
        ins = [a["as_tensor"]["name"] for a in n.args.values() if isinstance(a, dict) and "as_tensor" in a]
        ins += [t["name"] for a in n.args.values() if isinstance(a, dict) and "as_tensors" in a for t in a["as_tensors"]]
        if rule is None or len(n.outputs) != 1:
            self.refused[f"aten.{n.label}"] += 1
            return
        if any(t not in self.env and t not in self.fqn for t in ins):
            return  # downstream of a refused call: that refusal explains it
        try:
            rule(self, n)
        except AtenError as e:
            self.refused[f"aten.{n.label} ({e})"] += 1

    def x(self, n: _Node, arg: str = "self") -> str:
        t = n.tensor(arg) or n.tensor("input") or n.tensor("self")  # in-place variants name it self
        if t is None or t not in self.env:
            raise AtenError("its input is not a computed tensor")
        return self.env[t]


def _conv(b: _Builder, n: _Node) -> None:
    owner, state = b._weights(n, "weight", "bias")
    w = state["weight"]
    pad = n.value("padding", [0, 0])
    params = {"out_channels": int(w.shape[0]), "kernel_size": list(w.shape[2:]), "stride": n.value("stride", [1, 1]),
              "padding": pad if isinstance(pad, list) else pad, "dilation": n.value("dilation", [1, 1]),
              "groups": n.value("groups", 1), "bias": "bias" in state}
    b._add(owner or n.outputs[0], "Conv2d", params, [b.x(n, "input")], n.outputs[0], state)


def _linear(b: _Builder, n: _Node) -> None:
    owner, state = b._weights(n, "weight", "bias")
    params = {"out_features": int(state["weight"].shape[0]), "bias": "bias" in state}
    b._add(owner or n.outputs[0], "Linear", params, [b.x(n, "input")], n.outputs[0], state)


def _batch_norm(b: _Builder, n: _Node) -> None:
    owner, state = b._weights(n, "weight", "bias", "running_mean", "running_var")
    if "running_mean" not in state:
        raise AtenError("without running statistics")
    rank = len(b.shape(n.outputs[0]))
    op = {3: "BatchNorm2d", 1: "BatchNorm1d", 2: "BatchNorm1d"}[rank]
    params = {"eps": n.value("eps", 1e-5), "momentum": n.value("momentum", 0.1), "affine": "weight" in state}
    b._add(owner or n.outputs[0], op, params, [b.x(n, "input")], n.outputs[0], state)


def _layer_norm(b: _Builder, n: _Node) -> None:
    owner, state = b._weights(n, "weight", "bias")
    if len(state) == 1:
        raise AtenError("with a weight but no bias")
    params = {"normalized_dims": len(n.value("normalized_shape")), "eps": n.value("eps", 1e-5),
              "elementwise_affine": bool(state)}
    b._add(owner or n.outputs[0], "LayerNorm", params, [b.x(n, "input")], n.outputs[0], state)


def _pool(op: str) -> Callable[[_Builder, _Node], None]:
    def rule(b: _Builder, n: _Node) -> None:
        k = n.value("kernel_size")
        params = {"kernel_size": k, "stride": n.value("stride") or k, "padding": n.value("padding", [0, 0]),
                  "ceil_mode": n.value("ceil_mode", False)}
        if op == "MaxPool2d":
            params["dilation"] = n.value("dilation", [1, 1])
        else:
            if n.value("divisor_override") is not None:
                raise AtenError("with divisor_override")
            params["count_include_pad"] = n.value("count_include_pad", True)
        b._add(n.outputs[0], op, params, [b.x(n)], n.outputs[0])
    return rule


def _adaptive(b: _Builder, n: _Node) -> None:
    size = n.value("output_size")
    if list(size) == [1, 1]:
        b._add(n.outputs[0], "AdaptiveAvgPool2d", {"output_size": 1}, [b.x(n)], n.outputs[0])
    else:
        b._add(n.outputs[0], "AdaptiveAvgPool2d", {"output_size": list(size)}, [b.x(n)], n.outputs[0])


def _elementwise(op: str) -> Callable[[_Builder, _Node], None]:
    return lambda b, n: b._add(n.outputs[0], op, {}, [b.x(n)], n.outputs[0])


def _hardtanh(b: _Builder, n: _Node) -> None:
    if (n.value("min_val", -1.0), n.value("max_val", 1.0)) != (0.0, 6.0):
        raise AtenError("other than ReLU6's 0..6")
    b._add(n.outputs[0], "ReLU6", {}, [b.x(n)], n.outputs[0])


def _gelu(b: _Builder, n: _Node) -> None:
    b._add(n.outputs[0], "GELU", {"approximate": n.value("approximate", "none")}, [b.x(n)], n.outputs[0])


def _leaky(b: _Builder, n: _Node) -> None:
    b._add(n.outputs[0], "LeakyReLU", {"negative_slope": n.value("negative_slope", 0.01)}, [b.x(n)], n.outputs[0])


def _dropout(b: _Builder, n: _Node) -> None:
    b._add(n.outputs[0], "Dropout", {"p": n.value("p", 0.5)}, [b.x(n, "input")], n.outputs[0])


def _flatten(b: _Builder, n: _Node) -> None:
    if n.value("start_dim", 0) != 1 or n.value("end_dim", -1) != -1:
        raise AtenError("other than from dim 1 to the end")
    b._add(n.outputs[0], "Flatten", {}, [b.x(n)], n.outputs[0])


def _merge(op: str) -> Callable[[_Builder, _Node], None]:
    def rule(b: _Builder, n: _Node) -> None:
        if n.value("alpha", 1) != 1:
            raise AtenError("with alpha")
        b._add(n.outputs[0], op, {}, [b.x(n), b.x(n, "other")], n.outputs[0])
    return rule


def _cat(b: _Builder, n: _Node) -> None:
    tensors = n.value("tensors")
    rank = len(b.shape(n.outputs[0])) + 1
    dim = n.value("dim", 0) % rank
    if dim == 0:
        raise AtenError("over the batch")
    b._add(n.outputs[0], "Concat", {"dim": dim - 1}, [b.env[t] for t in tensors], n.outputs[0])


def _softmax(op: str) -> Callable[[_Builder, _Node], None]:
    def rule(b: _Builder, n: _Node) -> None:
        rank = len(b.shape(n.outputs[0])) + 1
        dim = n.value("dim") % rank
        if dim == 0:
            raise AtenError("over the batch")
        b._add(n.outputs[0], op, {"dim": dim - 1}, [b.x(n)], n.outputs[0])
    return rule


def _alias(b: _Builder, n: _Node) -> None:
    b.env[n.outputs[0]] = b.x(n)


def _reshape(b: _Builder, n: _Node) -> None:
    shape = b.shape(n.outputs[0])
    if len(shape) == 1:
        b._add(n.outputs[0], "Flatten", {}, [b.x(n)], n.outputs[0])
    elif shape == b.shape(n.tensor("self") or ""):
        _alias(b, n)
    else:
        b._add(n.outputs[0], "Reshape", {"shape": list(shape)}, [b.x(n)], n.outputs[0])


_RULES: dict[str, Callable[[_Builder, _Node], None]] = {
    "contiguous": _alias, "clone": _alias, "view": _reshape, "reshape": _reshape,
    "conv2d": _conv, "linear": _linear, "batch_norm": _batch_norm, "layer_norm": _layer_norm,
    "max_pool2d": _pool("MaxPool2d"), "avg_pool2d": _pool("AvgPool2d"), "adaptive_avg_pool2d": _adaptive,
    **{k: _elementwise(v) for k, v in _ELEMENTWISE.items()}, "hardtanh": _hardtanh, "gelu": _gelu,
    "leaky_relu": _leaky, "dropout": _dropout, "flatten": _flatten, "add": _merge("Add"), "mul": _merge("Multiply"),
    "cat": _cat, "softmax": _softmax("Softmax"), "log_softmax": _softmax("LogSoftmax"),
}
