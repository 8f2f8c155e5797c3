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
