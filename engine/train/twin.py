"""Start, and find, the shuffled-label twin of a run: its design and settings trained on permuted labels
(engine/train/shuffle.py), the other model of the saliency data-randomisation test (engine/visualise/sanity.py)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from engine.train.rundir import RunDir
from engine.train.runs import start_run


def start_shuffled_twin(run_dir: str | os.PathLike, root: str | os.PathLike | None = None, *,
                        queue: str | os.PathLike | None = None, owner: str = "") -> Path:
    """Start training `run_dir`'s design with its own settings on shuffled labels, as a new run under `root`
    (default: beside it) named '<name> · shuffled labels'. Returns the new run directory at once."""
    run = RunDir(run_dir)
    cfg = run.config()  # FileNotFoundError / ValueError naming the problem
    if cfg.shuffle_labels:
        raise ValueError(f"{run.id} was already trained on shuffled labels; pick the run trained on real labels.")
    g = run.graph()
    twin = dataclasses.replace(cfg, shuffle_labels=True)
    name = f"{run.meta().get('name', run.id)} · shuffled labels"
    return start_run(g, twin, root if root is not None else Path(run_dir).parent, name, queue=queue, owner=owner)


def shuffled_twins(run_dir: str | os.PathLike, root: str | os.PathLike | None = None) -> list[Path]:
    """Runs beside `run_dir` (or under `root`) trained on shuffled labels from the same design, newest first."""
    run = RunDir(run_dir)
    g = run.graph().to_json()
    root = Path(root) if root is not None else Path(run_dir).parent
    found = []
    for d in sorted(root.iterdir(), key=lambda p: p.name, reverse=True) if root.is_dir() else []:
        other = RunDir(d)
        if d == Path(run_dir) or not d.is_dir() or not other.is_run():
            continue
        cfg = other.config_dict() or {}
        if cfg.get("shuffle_labels") and other.graph().to_json() == g:
            found.append(d)
    return found
