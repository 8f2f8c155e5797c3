"""What exported code of a box task adds after the model: the image size and the functions that turn the model's
outputs into boxes, copied verbatim from engine.detect.grid (so the exported boxes are the app's)."""
from __future__ import annotations

import inspect

from engine.detect import grid

FUNCTIONS = {"detection": (grid.cells_to_boxes, grid.decode, grid.postprocess),
             "localisation": (grid.numbers_to_box, grid.localise)}
NAMES = {"IMAGE_SIZE", "torchvision"} | {f.__name__ for fns in FUNCTIONS.values() for f in fns}
USAGE = {"detection": "boxes = postprocess(model(x), IMAGE_SIZE)  # per image: boxes (x1, y1, x2, y2), scores, "
                      "labels after NMS",
         "localisation": "pred = localise(*model(x), IMAGE_SIZE)  # labels, scores, boxes (x1, y1, x2, y2)"}


def box_task_code(task: str | None, input_shape: tuple[int, ...] | None) -> tuple[list[str], list[str]]:
    """(extra import lines, extra module lines) for a graph of this task; nothing for other tasks."""
    if task not in FUNCTIONS or input_shape is None or len(input_shape) != 3:
        return [], []
    H, W = input_shape[1:]
    lines = ["", "", f"IMAGE_SIZE = ({H}, {W})  # the Input's height and width: boxes are in its pixels",
             f"# {USAGE[task]}"]
    for fn in FUNCTIONS[task]:
        lines += ["", ""] + inspect.getsource(fn).rstrip().splitlines()
    return (["import torchvision"] if task == "detection" else []), lines + [""]


def box_loss_source() -> str:
    """box_loss.py of a box task's bundle: the training losses and their target encoding, copied verbatim from
    engine.detect (grid, targets, loss), so the bundle's train.py optimises exactly what Convas does."""
    from engine.detect import loss, targets

    parts = [grid.cells_to_boxes, grid.numbers_to_box, targets.CellTargets, targets.encode, targets.encode_box,
             targets.decode_box, loss.detection_loss, loss.localisation_loss]
    lines = ['"""The losses of the box tasks, as Convas trains them (copied from its engine.detect: grid, targets,',
             'loss). Detection: focal loss on objectness and classes, GIoU + L1 on the boxes; localisation: cross-',
             'entropy + GIoU + L1. Each returns {"loss", and its parts}."""',
             "from __future__ import annotations", "", "from dataclasses import dataclass", "",
             "import torch", "import torch.nn.functional as F",
             "from torchvision.ops import generalized_box_iou_loss, sigmoid_focal_loss", "",
             f"ALPHA, GAMMA = {loss.ALPHA!r}, {loss.GAMMA!r}  # focal loss: the paper's (and torchvision's) defaults"]
    for p in parts:
        lines += ["", ""] + inspect.getsource(p).rstrip().splitlines()
    return "\n".join(lines) + "\n"
