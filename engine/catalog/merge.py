"""Merges of several inputs: Add (residuals), Multiply (gates), Concat (Inception, DenseNet)."""
from __future__ import annotations

import operator

import torch

from engine.catalog.arith import fmt_shape
from engine.catalog.helpers import numel
from engine.catalog.registry import OpSpec, Param, from_function, from_method, register_op
from engine.errors import ShapeError


def add_infer(p: dict, ins: list) -> tuple:
    first = ins[0]
    for i, s in enumerate(ins[1:], start=2):
        if s != first:
            fix = None
            if len(s) == 3 and len(first) == 3 and s[1:] == first[1:]:
                fix = {"kind": "insert_before", "op": "Conv2d", "input": i - 1,
                       "params": {"out_channels": first[0], "kernel_size": 1, "bias": False}}
            raise ShapeError(f"inputs must have the same shape to be added, but input 1 is {fmt_shape(first)} and "
                             f"input {i} is {fmt_shape(s)}."
                             + (f" Insert a 1×1 Conv2d with {first[0]} filters on input {i}." if fix else ""), fix=fix)
    return first


def _same_shape_operands(c, a, b, what: str, gates: bool = False) -> list:
    """Both operands tensors of one shape; with `gates`, a (B, C, 1, 1) operand may scale a (B, C, H, W) one."""
    xa, xb = c.tensor(a), c.tensor(b)
    sa, sb = c.full_shape(xa), c.full_shape(xb)
    if sa != sb and not (gates and len(sa) == len(sb) == 4 and (sa[:2] + (1, 1) == sb or sb[:2] + (1, 1) == sa)):
        raise c.unsupported(f"{c.label} with broadcasting ({what} needs equal shapes"
                            + (" or a C×1×1 gate)" if gates else ")"))
    return [xa, xb]


def _add_fx(c):
    a = c.bind("input, other, alpha=1")
    if c.const(a["alpha"]) != 1:
        raise c.unsupported(f"{c.label}(alpha=…)")
    return c.emit("Add", {}, _same_shape_operands(c, a["input"], a["other"], "Add"))


register_op(OpSpec(
    name="Add", category="Merge",
    doc="Element-wise sum of its inputs (residual connections). All inputs must have the same shape.",
    params=[], infer=add_infer, init=lambda c: None, forward=lambda c: " + ".join(c.args),
    count_macs=lambda p, ins, out: numel(out) * (len(ins) - 1), min_inputs=2, max_inputs=None,
    fx=(from_function(operator.add, operator.iadd, torch.add, convert=_add_fx),
        from_method("add", "add_", convert=_add_fx)),
))


def multiply_infer(p: dict, ins: list) -> tuple:
    """Equal shapes, or C×1×1 gates (squeeze-and-excitation) scaling every pixel of a C×H×W input."""
    full = max(ins, key=numel)
    for i, s in enumerate(ins, start=1):
        gate = len(s) == 3 and len(full) == 3 and s == (full[0], 1, 1)
        if s != full and not gate:
            raise ShapeError(f"inputs must have the same shape to be multiplied (or be a C×1×1 gate for a C×H×W "
                             f"input), but input {i} is {fmt_shape(s)} and the largest input is {fmt_shape(full)}.")
    return full


def _mul_fx(c):
    a = c.bind("input, other")
    return c.emit("Multiply", {}, _same_shape_operands(c, a["input"], a["other"], "Multiply", gates=True))


register_op(OpSpec(
    name="Multiply", category="Merge",
    doc="Element-wise product of its inputs. Shapes must match, except that a C×1×1 input scales each channel of "
        "a C×H×W one (squeeze-and-excitation gates).",
    params=[], infer=multiply_infer, init=lambda c: None, forward=lambda c: " * ".join(c.args),
    count_macs=lambda p, ins, out: numel(out) * (len(ins) - 1), min_inputs=2, max_inputs=None, id_prefix="mul",
    fx=(from_function(operator.mul, operator.imul, torch.mul, convert=_mul_fx),
        from_method("mul", "mul_", convert=_mul_fx)),
))


def concat_infer(p: dict, ins: list) -> tuple:
    dim = p["dim"]
    first = ins[0]
    if dim >= len(first):
        raise ShapeError(f"dim {dim} does not exist in a {len(first)}-dimensional input {fmt_shape(first)}.",
                         field="dim")
    total = 0
    for i, s in enumerate(ins, start=1):
        rest = s[:dim] + s[dim + 1:] if len(s) == len(first) else None
        if rest != first[:dim] + first[dim + 1:]:
            raise ShapeError(f"to concatenate along dim {dim}, every other size must match, but input 1 is "
                             f"{fmt_shape(first)} and input {i} is {fmt_shape(s)}.")
        total += s[dim]
    return first[:dim] + (total,) + first[dim + 1:]


def _cat_fx(c):
    a = c.bind("tensors, dim=0, axis=None")
    if a["axis"] is not None:  # torch.concatenate spells dim as axis
        a["dim"] = a["axis"]
    tensors = [c.tensor(t) for t in a["tensors"]]
    if len(tensors) == 1:
        return c.alias(tensors[0])
    return c.emit("Concat", {"dim": c.feature_dim(c.const(a["dim"]), len(c.full_out))}, tensors)


register_op(OpSpec(
    name="Concat", category="Merge",
    doc="Joins its inputs along a dimension (0 = channels for images), in input order.",
    params=[Param("dim", "int", 0, "Dimension to join along, batch excluded: 0 is channels for C×H×W.", min=0, max=3)],
    infer=concat_infer, init=lambda c: None,
    forward=lambda c: f"torch.cat([{', '.join(c.args)}], dim={c.p['dim'] + 1})",
    min_inputs=2, max_inputs=None, id_prefix="cat",
    fx=(from_function(torch.cat, *(f for f in (getattr(torch, "concat", None), getattr(torch, "concatenate", None))
                                   if f), convert=_cat_fx),),
))
