"""Converters for tensor calls that are not one catalog op: reshapes (view, flatten, squeeze, ...) that become
Flatten, Reshape or nothing; no-ops (contiguous, clone); spatial means that become GlobalAvgPool2d (+ Flatten); and
indexing. Calls that map to one op (+, *, cat, ...) are declared by that op in the catalog (OpSpec.fx).

Reshape-like calls are judged by what they did, not how they were spelt: the traced run knows the output shape, so
`x.view(x.size(0), -1)`, `torch.flatten(x, 1)` and `x.reshape(2, -1)` all become Flatten when they keep the batch
and leave one feature dimension, and a Reshape to the observed per-sample shape otherwise.
"""
from __future__ import annotations

import operator

import torch
import torch.nn as nn

from engine.fx.convert import PREV, Alias, Call, Emit, Unsupported, on_function, on_method, on_module


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
