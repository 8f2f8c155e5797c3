"""The network's entry point: Input (its shape is the one size a design states; shape inference derives the rest)."""
from __future__ import annotations

from engine.catalog.registry import OpSpec, Param, register_op

register_op(OpSpec(
    name="Input", category="Input/Output",
    doc="The network's input. Shape excludes the batch: [C, H, W] for images, [T, F] for sequences, [T] for token ids.",
    params=[Param("shape", "shape", [1, 28, 28], "Input size without the batch dimension, e.g. [3, 32, 32].",
                  min=1, max=100000),
            Param("dtype", "choice", "float32", "float32 for images and features; int64 for token ids (Embedding).",
                  choices=("float32", "int64"))],
    infer=lambda p, ins: tuple(p["shape"]), init=lambda c: None, forward=lambda c: c.attr,
    min_inputs=0, max_inputs=0,
))
