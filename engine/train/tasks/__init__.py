"""Which training loop a task uses: `runner_for(task)`.

Classification and segmentation share engine.train.loop.Run. A task that trains differently (another batch order,
loss, metric or results) subclasses Run in its own module in this package and adds one entry to RUNNERS.
"""
from __future__ import annotations

from engine.train.loop import Run
from engine.train.tasks.detection import DetectionRun
from engine.train.tasks.language_model import LanguageModelRun
from engine.train.tasks.localisation import LocalisationRun
from engine.train.tasks.recommendation import SEED_SETTINGS, RecommendationRun

RUNNERS: dict[str, type[Run]] = {
    "classification": Run,
    "segmentation": Run,
    "recommendation": RecommendationRun,
    "language_model": LanguageModelRun,
    "localisation": LocalisationRun,
    "detection": DetectionRun,
}

# TrainConfig values a task starts from where the user sets nothing (the CLI and the Train form read these)
TASK_DEFAULTS: dict[str, dict] = {"recommendation": SEED_SETTINGS}


def runner_for(task: str) -> type[Run]:
    try:
        return RUNNERS[task]
    except KeyError:
        raise ValueError(f"no trainer for task {task!r}; known tasks: {', '.join(sorted(RUNNERS))}.") from None
