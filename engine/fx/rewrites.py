"""Patterns of several fx calls that together are one catalog op, found before the builder walks the trace.

A rewrite does not change the fx graph: it chooses the converter of each call in the pattern (node.meta[REWRITE]),
so the builder turns the whole pattern into the op(s) it means and the calls inside it into aliases. Patterns:

- channel shuffle (ShuffleNet): x.view(B, g, C/g, H, W) → transpose(1, 2) → [contiguous] → view(B, C, H, W)
  becomes ChannelShuffle(groups=g);
- channel-last blocks (ConvNeXt): x.permute(0, 2, 3, 1) → per-pixel calls → permute(0, 3, 1, 2) stays channel-first:
  a LayerNorm over the last dim (nn.LayerNorm, or F.layer_norm on the module's own weight and bias, as
  torchvision's LayerNorm2d does) becomes LayerNorm2d, a Linear becomes the 1×1 Conv2d it is (map_state_dict
  gives it the Linear's weight with two trailing 1s), element-wise calls stay what they are;
- layer scale (ConvNeXt): a learned C×1×1 tensor attribute times a C×H×W tensor becomes LayerScale.

The catalog keeps C×H×W as the one image layout, so a channel-last tensor never reaches the graph.
"""
from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from engine.fx.convert import REWRITE, Alias, Call, Emit, TensorFact, Unsupported, converter_for

_VIEWS_METHODS = {"view", "reshape"}
_ELEMENTWISE_MODULES = (nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid,
                        nn.LeakyReLU, nn.ELU, nn.Dropout, nn.Identity)
_ELEMENTWISE_FUNCTIONS = {F.relu, F.relu6, F.gelu, F.silu, F.hardswish, F.hardsigmoid, F.leaky_relu, F.elu,
                          F.dropout, torch.relu, torch.sigmoid, torch.tanh}
_TO_CHANNELS_LAST, _TO_CHANNELS_FIRST = [0, 2, 3, 1], [0, 3, 1, 2]


def apply(gm: fx.GraphModule, facts: dict[fx.Node, Any], root: nn.Module) -> None:
    """Mark every pattern found in `gm` (facts of channel-last calls are turned channel-first in place)."""
    for node in list(gm.graph.nodes):
        if REWRITE in node.meta:
            continue
        _channel_shuffle(node, facts)
        _channels_last(node, facts, root)
        _layer_scale(node, facts, root)


# -- small readers -----------------------------------------------------------------------------------------------
def _shape(facts: dict, node: Any) -> tuple[int, ...] | None:
    fact = facts.get(node) if isinstance(node, fx.Node) else None
    return fact.shape if isinstance(fact, TensorFact) else None


def _dims(node: fx.Node, method: str, function: Any) -> list[int] | None:
    """The int arguments after the tensor of x.<method>(…) or function(x, …), flattened; None for another call."""
    if node.op == "call_method" and node.target == method:
        args = list(node.args[1:])
    elif node.op == "call_function" and node.target is function:
        args = list(node.args[1:]) + list(node.kwargs.values())
    else:
        return None
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = list(args[0])
    return list(args) if all(isinstance(a, int) for a in args) else None


def _only_user(node: fx.Node) -> fx.Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _alias(source: fx.Node):
    return lambda c: Alias(source)


def _mark(node: fx.Node, convert) -> None:
    node.meta[REWRITE] = convert


# -- channel shuffle ---------------------------------------------------------------------------------------------
def _channel_shuffle(t: fx.Node, facts: dict) -> None:
    dims = _dims(t, "transpose", torch.transpose)
    if dims is None or len(dims) != 2 or sorted(d % 5 for d in dims) != [1, 2]:
        return
    view = t.args[0]
    if not (isinstance(view, fx.Node) and view.op == "call_method" and view.target in _VIEWS_METHODS
            and _only_user(view) is t):
        return
    x = view.args[0]
    xs, vs = _shape(facts, x), _shape(facts, view)
    if xs is None or vs is None or len(xs) != 4 or len(vs) != 5 or vs != (xs[0], vs[1], xs[1] // vs[1]) + xs[2:]:
        return
    end = _only_user(t)
    while end is not None and end.op == "call_method" and end.target in ("contiguous", "clone"):
        end = _only_user(end)
    if end is None or _shape(facts, end) != xs or not (
            (end.op == "call_method" and end.target in _VIEWS_METHODS | {"flatten"})
            or (end.op == "call_function" and end.target in (torch.reshape, torch.flatten))):
        return
    groups = vs[1]
    _mark(view, _alias(x))
    _mark(t, _alias(view))
    _mark(end, lambda c: Emit("ChannelShuffle", {"groups": groups}, [x], keep=("groups",)))


# -- channel-last blocks -----------------------------------------------------------------------------------------
def _permute(node: fx.Node) -> list[int] | None:
    dims = _dims(node, "permute", torch.permute)
    return [d % 4 for d in dims] if dims and len(dims) == 4 else None


def _per_pixel(u: fx.Node, prev: fx.Node, root: nn.Module) -> Any:
    """The channel-first converter of a per-pixel call fed by `prev` only, or None when `u` is not one."""
    if not u.args or u.args[0] is not prev or any(a is prev for a in list(u.args[1:]) + list(u.kwargs.values())):
        return None
    if u.op == "call_module":
        m = root.get_submodule(u.target)
        if isinstance(m, nn.Linear):
            return lambda c: Emit("Conv2d", {"out_channels": m.out_features, "kernel_size": 1,
                                             "bias": m.bias is not None}, [prev], keep=("out_channels", "kernel_size"))
        if isinstance(m, nn.LayerNorm) and len(m.normalized_shape) == 1 and (
                not m.elementwise_affine or m.bias is not None):
            return lambda c: Emit("LayerNorm2d", {"eps": m.eps, "elementwise_affine": m.elementwise_affine}, [prev])
        return converter_for(u, m) if isinstance(m, _ELEMENTWISE_MODULES) else None
    if u.op == "call_function" and u.target is F.layer_norm:
        return _functional_layer_norm(u, prev)
    if u.op == "call_function" and u.target in _ELEMENTWISE_FUNCTIONS:
        return converter_for(u, None)
    return None


def _functional_layer_norm(u: fx.Node, prev: fx.Node) -> Any:
    """F.layer_norm(x, (C,), self.weight, self.bias, eps): LayerNorm2d with that module's weights (LayerNorm2d)."""
    def convert(c: Call) -> Emit:
        a = c.bind("input, normalized_shape, weight=None, bias=None, eps=1e-05")
        w, b = a["weight"], a["bias"]
        if len(c.const(a["normalized_shape"])) != 1:
            raise Unsupported(f"{c.label} over several channel-last dimensions")
        if w is None and b is None:
            return Emit("LayerNorm2d", {"eps": c.const(a["eps"]), "elementwise_affine": False}, [prev])
        targets = [n.target if isinstance(n, fx.Node) and n.op == "get_attr" else None for n in (w, b)]
        owners = {t.rpartition(".")[0] for t in targets if t}
        if None in targets or [t.rpartition(".")[2] for t in targets] != ["weight", "bias"] or len(owners) != 1:
            raise Unsupported(f"{c.label} with a weight and bias that are not one module's weight and bias")
        return Emit("LayerNorm2d", {"eps": c.const(a["eps"])}, [prev], source=owners.pop())
    return convert


def _channels_last(p: fx.Node, facts: dict, root: nn.Module) -> None:
    xs = _shape(facts, p.args[0] if p.args else None)
    if _permute(p) != _TO_CHANNELS_LAST or xs is None or len(xs) != 4:
        return
    chain: list[tuple[fx.Node, Any]] = []
    cur = p
    while True:
        u = _only_user(cur)
        if u is None:
            return
        if _permute(u) == _TO_CHANNELS_FIRST:
            break
        convert = _per_pixel(u, cur, root)
        shape = _shape(facts, u)
        if convert is None or shape is None or len(shape) != 4:
            return
        chain.append((u, convert))
        cur = u
    _mark(p, _alias(p.args[0]))
    _mark(u, _alias(cur))
    for node, convert in chain:
        B, H, W, C = facts[node].shape
        facts[node] = TensorFact((B, C, H, W), facts[node].dtype)
        _mark(node, convert)
    facts[p] = TensorFact(xs, facts[p].dtype)


# -- layer scale -------------------------------------------------------------------------------------------------
def _layer_scale(node: fx.Node, facts: dict, root: nn.Module) -> None:
    is_mul = (node.op == "call_function" and node.target in (operator.mul, torch.mul)) or (
        node.op == "call_method" and node.target == "mul")
    if not is_mul or len(node.args) != 2 or node.kwargs:
        return
    a, b = node.args
    attr, x = (a, b) if isinstance(a, fx.Node) and a.op == "get_attr" else (b, a)
    if not (isinstance(attr, fx.Node) and attr.op == "get_attr" and isinstance(x, fx.Node)):
        return
    ws, xs = _shape(facts, attr), _shape(facts, x)
    if ws is None or xs is None or len(xs) != 4 or ws != (xs[1], 1, 1):
        return
    try:
        value = root.get_parameter(attr.target).detach()
    except AttributeError:  # a buffer, not a learned parameter
        return
    first = float(value.flatten()[0])
    init = first if bool((value == first).all()) else 1e-6  # the factors' start, when still all equal
    _mark(node, lambda c: Emit("LayerScale", {"init_value": init}, [x], source=attr.target))
