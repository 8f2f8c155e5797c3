"""Converters for tensor operations: merges (+, *, cat), reshapes (view, flatten, squeeze, ...), spatial means.

Reshape-like calls are judged by what they did, not how they were spelt: the traced run knows the output shape, so
`x.view(x.size(0), -1)`, `torch.flatten(x, 1)` and `x.reshape(2, -1)` all become Flatten when they keep the batch
and leave one feature dimension, and a Reshape to the observed per-sample shape otherwise.
"""
from __future__ import annotations

import operator

import torch
import torch.nn as nn

from engine.fx.convert import PREV, Alias, Call, Emit, Unsupported, need, on_function, on_method, on_module


def _same_shape_operands(c: Call, a, b, what: str, gates: bool = False) -> list:
    """Both operands tensors of one shape; with `gates`, a (B, C, 1, 1) operand may scale a (B, C, H, W) one."""
    xa, xb = c.tensor(a), c.tensor(b)
    sa, sb = c.full_shape(xa), c.full_shape(xb)
    if sa != sb and not (gates and len(sa) == len(sb) == 4 and (sa[:2] + (1, 1) == sb or sb[:2] + (1, 1) == sa)):
        raise Unsupported(f"{c.label} with broadcasting ({what} needs equal shapes"
                          + (" or a C×1×1 gate)" if gates else ")"))
    return [xa, xb]


@on_function(operator.add, operator.iadd, torch.add)
@on_method("add", "add_")
def add(c: Call) -> Emit:
    a = c.bind("input, other, alpha=1")
    if c.const(a["alpha"]) != 1:
        raise Unsupported(f"{c.label}(alpha=…)")
    return Emit("Add", {}, _same_shape_operands(c, a["input"], a["other"], "Add"))


@on_function(operator.mul, operator.imul, torch.mul)
@on_method("mul", "mul_")
def mul(c: Call) -> Emit:
    need("Multiply", c)
    a = c.bind("input, other")
    return Emit("Multiply", {}, _same_shape_operands(c, a["input"], a["other"], "Multiply", gates=True))


@on_function(torch.cat, *(f for f in (getattr(torch, "concat", None), getattr(torch, "concatenate", None)) if f))
def cat(c: Call):
    a = c.bind("tensors, dim=0, axis=None")
    if a["axis"] is not None:  # torch.concatenate spells dim as axis
        a["dim"] = a["axis"]
    tensors = [c.tensor(t) for t in a["tensors"]]
    if len(tensors) == 1:
        return Alias(tensors[0])
    dim = c.feature_dim(c.const(a["dim"]), len(c.full_out))
    return Emit("Concat", {"dim": dim}, tensors)


def reshape_like(c: Call):
    x = c.tensor(c.node.args[0])
    ins, out = c.full_shape(x), c.full_out
    if out[0] != ins[0] or len(out) == 1:
        raise Unsupported(f"{c.label} that changes the batch dimension")
    if out == ins:
        return Alias(x)
    if len(out) == 2:
        return Emit("Flatten", {}, [x])
    return Emit("Reshape", {"shape": list(out[1:])}, [x], keep=("shape",))


on_method("view", "reshape", "flatten", "squeeze", "unsqueeze", "view_as", "reshape_as")(reshape_like)
on_function(torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze)(reshape_like)
on_module(nn.Flatten, nn.Unflatten)(reshape_like)


@on_method("contiguous", "clone")
def no_op(c: Call) -> Alias:
    a = c.bind("input, memory_format=None")
    return Alias(c.tensor(a["input"]))


def _spatial_mean(c: Call, x, dim, keepdim) -> list[Emit] | Emit:
    dims = c.const(dim)
    dims = [dims] if isinstance(dims, int) else list(dims or [])
    rank = len(c.full_shape(x))
    if rank != 4 or sorted(d % rank for d in dims) != [2, 3]:
        raise Unsupported(f"{c.label} over dims other than height and width")
    pool = Emit("GlobalAvgPool2d", {}, [c.tensor(x)])
    return pool if c.const(keepdim) else [pool, Emit("Flatten", {}, [PREV])]


@on_function(torch.mean)
def mean_function(c: Call):
    a = c.bind("input, dim=None, keepdim=False, dtype=None")
    return _spatial_mean(c, a["input"], a["dim"], a["keepdim"])


@on_method("mean")
def mean_method(c: Call):
    a = c.bind("input, dim=None, keepdim=False, dtype=None")
    return _spatial_mean(c, a["input"], a["dim"], a["keepdim"])


@on_function(operator.getitem)
def getitem(c: Call):
    """Indexing a tensor. Only `seq[:, -1]` on a recurrent layer's sequence output is understood (its last step)."""
    x, index = c.node.args
    hook = getattr(c.builder, "last_step", None)
    if hook is not None and _is_last_step(index):
        return hook(c, c.tensor(x))
    raise Unsupported("tensor indexing x[…]")


def _is_last_step(index) -> bool:
    """[:, -1] or [:, -1, :]"""
    if not isinstance(index, tuple) or len(index) not in (2, 3):
        return False
    full = slice(None, None, None)
    return index[0] == full and index[1] == -1 and all(i == full for i in index[2:])
