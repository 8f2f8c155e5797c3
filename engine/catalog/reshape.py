"""Ops that move elements without computing: Flatten, Identity, Reshape, ZeroPad2d, ToSequence, ChannelShuffle,
Chunk.

Flatten and Reshape come from one importer rule (engine/fx/tensor_ops.py: view, reshape, flatten, ... become
whichever of the two fits what torch computed), and ToSequence from a permute + reshape pair (engine/fx/recurrent.py),
so those three declare no fx mapping of their own. ChannelShuffle also comes from a pattern (view, transpose,
view: engine/fx/rewrites.py) besides nn.ChannelShuffle.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.catalog.arith import fmt_shape, need_rank
from engine.catalog.helpers import numel, same_shape
from engine.catalog.registry import OpSpec, Param, from_function, from_method, from_module, register_op
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


def channel_shuffle_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "ChannelShuffle interleaves the channel groups of C×H×W.")
    C, g = ins[0][0], p["groups"]
    if C % g:
        raise ShapeError(f"the input channels must be divisible by groups, but {C} channels do not split into {g} "
                         f"groups. Received: groups={g} (input shape {fmt_shape(ins[0])}).", field="groups")
    return ins[0]


def _channel_shuffle_fx(c):
    if c.module is not None:
        return c.emit("ChannelShuffle", {"groups": c.module.groups}, [c.only_input()], keep=("groups",))
    a = c.bind("input, groups")
    return c.emit("ChannelShuffle", {"groups": c.const(a["groups"])}, [c.tensor(a["input"])], keep=("groups",))


register_op(OpSpec(
    name="ChannelShuffle", category="Reshape",
    doc="Interleaves the channels of groups groups (ShuffleNet), so the next grouped convolution sees every group: "
        "channel i·(C/g)+j moves to j·g+i; C×H×W → C×H×W.",
    params=[Param("groups", "int", 2, "Number of channel groups to interleave; must divide the channels.",
                  min=1, max=4096)],
    infer=channel_shuffle_infer, init=lambda c: None, id_prefix="shuffle",
    # what nn.ChannelShuffle computes, written out: every exporter (TorchScript, ONNX, torch.export) knows these
    forward=lambda c: f"{c.args[0]}.unflatten(1, ({c.p['groups']}, -1)).transpose(1, 2).flatten(1, 2)",
    fx=(from_module(nn.ChannelShuffle, convert=_channel_shuffle_fx),
        from_function(torch.channel_shuffle, convert=_channel_shuffle_fx)),
))


def chunk_sizes(n: int, chunks: int) -> list[int]:
    """torch.chunk's split: pieces of ⌈n/chunks⌉, the last one smaller; fewer pieces than asked when n is small."""
    size = -(-n // chunks)
    return [min(size, n - start) for start in range(0, n, size)]


def chunk_infer(p: dict, ins: list) -> tuple:
    s, dim, chunks, index = ins[0], p["dim"], p["chunks"], p["index"]
    if dim >= len(s):
        raise ShapeError(f"dim {dim} does not exist in a {len(s)}-dimensional input {fmt_shape(s)}.", field="dim")
    sizes = chunk_sizes(s[dim], chunks)
    if index >= len(sizes):
        raise ShapeError(f"chunk {index} does not exist: {s[dim]} elements along dim {dim} split into "
                         f"{chunks} chunks of up to ⌈{s[dim]}/{chunks}⌉ = {sizes[0]} give only {len(sizes)} "
                         f"(index 0 to {len(sizes) - 1}). Received: index={index}.", field="index")
    return s[:dim] + (sizes[index],) + s[dim + 1:]


def _check_chunk(p: dict) -> None:
    if p["index"] >= p["chunks"]:
        raise ParamError("index", f"index must be below chunks ({p['chunks']}). Received: index={p['index']}.")


def _chunk_fx(c):
    """x.chunk(n, dim) returns n tensors: one Chunk node per piece, each the `index`-th piece of x."""
    a = c.bind("input, chunks, dim=0")
    x, n = c.tensor(a["input"]), c.const(a["chunks"])
    dim = c.feature_dim(c.const(a["dim"]), len(c.full_shape(x)))
    pieces = len(c.out_fact)
    return [c.emit("Chunk", {"chunks": n, "dim": dim, "index": i}, [x], keep=("chunks", "index"),
                   one_of_many=True) for i in range(pieces)]


register_op(OpSpec(
    name="Chunk", category="Reshape",
    doc="One piece of torch.chunk: splits the input into chunks pieces of ⌈size/chunks⌉ along dim (0 = channels "
        "for C×H×W) and returns piece index (ShuffleNet's channel split).",
    params=[Param("chunks", "int", 2, "How many pieces to split into.", min=1, max=4096),
            Param("dim", "int", 0, "Dimension to split, batch excluded: 0 is channels for C×H×W.", min=0, max=3),
            Param("index", "int", 0, "Which piece this node returns, from 0.", min=0, max=4095)],
    infer=chunk_infer, init=lambda c: None, check_params=_check_chunk, token_ids="pass",
    forward=lambda c: f"{c.args[0]}.chunk({c.p['chunks']}, dim={c.p['dim'] + 1})[{c.p['index']}]",
    fx=(from_method("chunk", convert=_chunk_fx), from_function(torch.chunk, convert=_chunk_fx)),
))
