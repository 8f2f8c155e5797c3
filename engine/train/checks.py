"""Checks before the first step: the device, and whether the graph fits the task and the data.

Every message names the mismatch and the fix, because the app shows it as the run's status.
"""
from __future__ import annotations

import math

import torch

from engine.catalog import get_op, has_op
from engine.catalog.arith import fmt_shape
from engine.data import Data
from engine.graph import Graph
from engine.shapes import Report


class TrainError(RuntimeError):
    """A run that cannot start or continue; the message is the status the app shows."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("device=cuda was asked for but torch sees no GPU here. Use device 'auto' or 'cpu'.")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32."""
    if name == "fp32":
        return None
    if name == "bf16":
        return torch.bfloat16
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def _fix_for_output(g: Graph, want: int) -> str:
    node = g.node(g.outputs[0])
    width = get_op(node.op).width_param if has_op(node.op) else None  # Linear's out_features, Conv2d's out_channels
    if width:
        return f"Set {node.id}.{width} to {want}."
    return f"Make the last layer produce {want} values per example."


def check_fit(g: Graph, report: Report, data: Data) -> bool:
    """Raise TrainError when the graph cannot train on data; True when images must drop their channel axis
    (a 1×H×W image fed to a sequence model whose Input is H×W)."""
    if not report.ok:
        lines = "; ".join(str(e) for e in report.errors[:5])
        raise TrainError(f"the graph has {len(report.errors)} error(s); fix them before training: {lines}")
    inputs = [n for n in g.nodes if n.op == "Input"]
    if len(inputs) != 1 or len(g.outputs) != 1:
        raise TrainError(f"training needs a graph with one Input and one output. Received: {len(inputs)} Input "
                         f"node(s) and {len(g.outputs)} output(s).")
    inp = inputs[0]
    if report.normalised.get(inp.id, {}).get("dtype") == "int64":
        raise TrainError(f"the Input '{inp.id}' takes token ids (dtype int64) but {data.name} holds images. Set "
                         f"{inp.id}.dtype to float32.")
    want_in, have_in = report.nodes[inp.id].shape, data.input_shape
    squeeze = False
    if want_in != have_in:
        if len(have_in) == 3 and have_in[0] == 1 and want_in == have_in[1:]:
            squeeze = True  # rows as a sequence: (1, H, W) -> (H, W) = (T, F)
        else:
            raise TrainError(f"the data's examples are {fmt_shape(have_in)} but the Input '{inp.id}' expects "
                             f"{fmt_shape(want_in)}. Set {inp.id}.shape to {list(have_in)}, or choose data whose "
                             f"examples are {fmt_shape(want_in)}. Received: data={data.name!r}.")
    task = g.task.kind if g.task else "classification"
    if task != data.task:
        raise TrainError(f"the graph's task is {task} but {data.name} is {data.task} data. Choose "
                         f"{'mnist-seg' if task == 'segmentation' else 'a classification dataset'} or set the "
                         f"graph's task to {data.task}.")
    out_id = g.outputs[0]
    out = report.nodes[out_id].shape
    K = data.num_classes
    if data.task == "classification":
        if len(out) != 1:
            raise TrainError(f"classification needs the output '{out_id}' to be {K} logits (one per class) but it "
                             f"is {fmt_shape(out)}. Add a Flatten (or a global pooling) and a Linear with "
                             f"out_features={K} at the end.")
        if out[0] != K:
            raise TrainError(f"the network outputs {out[0]} values per example but {data.name} has {K} classes. "
                             + _fix_for_output(g, K))
    else:
        mask = tuple(data.y_train.shape[1:])
        if len(out) != 3 or out[1:] != mask or out[0] != K:
            raise TrainError(f"segmentation needs the output '{out_id}' to be {K}×{mask[0]}×{mask[1]} ({K} class "
                             f"scores per pixel of the {mask[0]}×{mask[1]} masks) but it is {fmt_shape(out)}. "
                             + (_fix_for_output(g, K) if len(out) == 3 and out[1:] == mask else
                                "Upsample back to the input's size and end with a 1×1 Conv2d of "
                                f"out_channels={K}."))
    return squeeze


def oom_message(batch_size: int, device: torch.device) -> str:
    where = "GPU" if device.type == "cuda" else "main"
    used = ""
    if device.type == "cuda" and torch.cuda.is_available():
        used = (f" ({torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB used of "
                f"{torch.cuda.get_device_properties(device).total_memory / 2**30:.1f} GiB)")
    smaller = max(1, 2 ** int(math.log2(max(batch_size // 2, 1))))
    return (f"ran out of {where} memory at batch size {batch_size}{used}. Try batch size {smaller}, "
            f"precision bf16, or a smaller network; the last checkpoint is kept.")
