"""Detection heads: DetectionHead, the last layer of a single-stage grid detector (YOLO style, anchor-free)."""
from __future__ import annotations

from engine.catalog.arith import need_rank
from engine.catalog.helpers import call
from engine.catalog.registry import EmitCtx, OpSpec, Param, register_op

CELL = 5  # per cell, before the class scores: objectness and the 4 box numbers (tx, ty, tw, th)


def detection_head_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "DetectionHead turns a backbone's C×S×S feature map into S×S cells of predictions.")
    _, S_h, S_w = ins[0]
    return (CELL + p["num_classes"], S_h, S_w)


def detection_head_init(ctx: EmitCtx) -> str:
    C = ctx.in_shapes[0][0]
    return f"nn.Conv2d({C}, {CELL} + {ctx.p['num_classes']}, kernel_size=1)  # per cell: objectness, box, classes"


def _count_params(p, ins, out) -> int:
    return (ins[0][0] + 1) * (CELL + p["num_classes"])


register_op(OpSpec(
    name="DetectionHead", category="Detection",
    doc=("Grid detector head (YOLO style, anchor-free): a 1×1 convolution turns C×S×S features into S×S cells, "
         "each predicting objectness, a box (tx, ty, tw, th) and num_classes class scores: C×S×S → "
         "(5 + num_classes)×S×S. Each cell is responsible for the objects whose centre falls in it, so the grid "
         "S×S is the backbone's output size: for an H×W image a cell covers H/S × W/S pixels."),
    params=[Param("num_classes", "int", 10, "Classes each cell scores (the data set's classes).", min=1,
                  max=10_000)],
    infer=detection_head_infer,
    init=detection_head_init,
    forward=call,
    count_params=_count_params,
    count_macs=lambda p, ins, out: ins[0][0] * out[0] * out[1] * out[2],
    id_prefix="head", width_param="num_classes",
    describe=lambda p: f"a DetectionHead for {p['num_classes']} classes",
))
