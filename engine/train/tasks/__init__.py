"""Which training loop a task uses: `runner_for(task)`.

Classification and segmentation share engine.train.loop.Run. A task that trains differently (another batch order,
loss, metric or results) subclasses Run in its own module in this package and adds one entry to RUNNERS.
"""
from __future__ import annotations

from engine.train.loop import Run
from engine.train.tasks.detection import DetectionRun
from engine.train.tasks.localisation import LocalisationRun

RUNNERS: dict[str, type[Run]] = {
    "classification": Run,
    "segmentation": Run,
    "localisation": LocalisationRun,
    "detection": DetectionRun,
}


def runner_for(task: str) -> type[Run]:
    try:
        return RUNNERS[task]
    except KeyError:
        raise ValueError(f"no trainer for task {task!r}; known tasks: {', '.join(sorted(RUNNERS))}.") from None
