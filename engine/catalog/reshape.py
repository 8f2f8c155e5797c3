"""Ops that move elements without computing: Flatten, Identity, Reshape, ZeroPad2d, ToSequence.

Flatten and Reshape come from one importer rule (engine/fx/tensor_ops.py: view, reshape, flatten, ... become
whichever of the two fits what torch computed), and ToSequence from a permute + reshape pair (engine/fx/recurrent.py),
so those three declare no fx mapping of their own.
"""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from engine.catalog.arith import fmt_shape, need_rank
from engine.catalog.helpers import numel, same_shape
from engine.catalog.registry import OpSpec, Param, from_function, from_module, register_op
from engine.errors import ParamError, ShapeError


def flatten_infer(p: dict, ins: list) -> tuple:
    return (numel(ins[0]),)


register_op(OpSpec(
    name="Flatten", category="Reshape",
    doc="Flattens everything but the batch: C×H×W → C·H·W.",
    params=[], infer=flatten_infer, init=lambda c: None,
    forward=lambda c: f"torch.flatten({c.args[0]}, 1)", id_prefix="flat", token_ids="pass",
))

register_op(OpSpec(
    name="Identity", category="Reshape",
    doc="Passes its input through unchanged (a placeholder, or a named tap point to inspect).",
    params=[], infer=same_shape, init=lambda c: None, forward=lambda c: c.args[0],
    fx=(from_module(nn.Identity, convert=lambda c: c.emit("Identity", {}, [c.tensor(c.node.args[0])])),),
    token_ids="pass",
))


def _check_reshape(p: dict) -> None:
    shape = p["shape"]
    if 0 in shape:
        raise ParamError("shape", f"sizes must be positive (or −1 for 'whatever is left'). Received: shape={list(shape)}.")
    if shape.count(-1) > 1:
        raise ParamError("shape", f"at most one size may be −1. Received: shape={list(shape)}.")


def reshape_infer(p: dict, ins: list) -> tuple:
    shape, n = p["shape"], numel(ins[0])
    known = numel(tuple(s for s in shape if s != -1))
    target = " · ".join(str(s) for s in shape)
    if -1 in shape:
        if n % known:
            raise ShapeError(f"cannot reshape {fmt_shape(ins[0])} ({n} elements) to {list(shape)}: {n} is not "
                             f"divisible by the known sizes' product {known}.", field="shape")
        return tuple(n // known if s == -1 else s for s in shape)
    if known != n:
        raise ShapeError(f"cannot reshape {fmt_shape(ins[0])} to {fmt_shape(shape)}: the element counts differ, "
                         f"{' · '.join(str(s) for s in ins[0])} = {n} but {target} = {known}.", field="shape")
    return tuple(shape)


register_op(OpSpec(
    name="Reshape", category="Reshape",
    doc="Rearranges the elements into a new shape (batch excluded); one size may be −1 to take what is left.",
    params=[Param("shape", "shape", [-1], "Target shape without the batch, e.g. [4, 7, 7]; one −1 allowed.",
                  min=-1, max=10_000_000)],
    infer=reshape_infer, init=lambda c: None, check_params=_check_reshape,
    forward=lambda c: f"{c.args[0]}.reshape({c.args[0]}.shape[0], {', '.join(str(s) for s in c.out_shape)})",
    token_ids="pass",
))


def _pads(p: dict) -> tuple[int, int, int, int]:
    """(left, right, top, bottom)."""
    pad = p["padding"]
    return tuple(pad) * 4 if len(pad) == 1 else tuple(pad)  # type: ignore[return-value]


def _check_zeropad(p: dict) -> None:
    if len(p["padding"]) not in (1, 4):
        raise ParamError("padding", f"padding must be one number or [left, right, top, bottom]. "
                         f"Received: padding={list(p['padding'])}.")


def _zero_pad_emit(c, x, pads):
    pads = [int(v) for v in pads]
    if len(pads) == 2:
        pads += [0, 0]
    if len(pads) != 4:
        raise c.unsupported(f"{c.label} of {len(pads) // 2} dimensions")
    return c.emit("ZeroPad2d", {"padding": pads[:1] if len(set(pads)) == 1 else pads}, [c.tensor(x)],
                  keep=("padding",))


def _pad_function(c):
    a = c.bind("input, pad, mode='constant', value=None")
    if c.const(a["mode"]) != "constant" or c.const(a["value"]) not in (None, 0, 0.0):
        raise c.unsupported(f"{c.label}(mode={c.const(a['mode'])!r}, value={c.const(a['value'])!r})")
    return _zero_pad_emit(c, a["input"], c.const(a["pad"]))


def zeropad_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "ZeroPad2d pads the height and width of C×H×W.")
    C, H, W = ins[0]
    left, right, top, bottom = _pads(p)
    oh, ow = H + top + bottom, W + left + right
    if oh <= 0 or ow <= 0:
        raise ShapeError(f"negative padding crops more than the input has: height {H} + {top} + {bottom} = {oh}, "
                         f"width {W} + {left} + {right} = {ow}.", field="padding")
    return (C, oh, ow)


register_op(OpSpec(
    name="ZeroPad2d", category="Reshape",
    doc="Adds rows and columns of zeros around an image (negative values crop): C×H×W → C×(H+top+bottom)×(W+left+right).",
    params=[Param("padding", "shape", [1], "One number for every side, or [left, right, top, bottom].",
                  min=-4096, max=4096)],
    infer=zeropad_infer, check_params=_check_zeropad,
    init=lambda c: f"nn.ZeroPad2d({_pads(c.p)})", forward=lambda c: f"self.{c.attr}({c.args[0]})", id_prefix="pad",
    fx=(from_module(nn.ZeroPad2d, convert=lambda c: _zero_pad_emit(c, c.only_input(), c.module.padding)),
        from_function(F.pad, convert=_pad_function)),
))


def toseq_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "ToSequence turns the rows of a C×H×W image into H steps.")
    C, H, W = ins[0]
    return (H, C * W)


register_op(OpSpec(
    name="ToSequence", category="Reshape",
    doc="Reads an image row by row as a sequence for an LSTM/GRU: C×H×W → H steps of C·W features.",
    params=[], infer=toseq_infer, init=lambda c: None, id_prefix="seq",
    forward=lambda c: f"{c.args[0]}.permute(0, 2, 1, 3).flatten(2)",  # (B, C, H, W) -> (B, H, C, W) -> (B, H, C·W)
))
