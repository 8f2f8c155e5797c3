"""A run's headline number, the one validation figure that picks its best weights: each task's Run.score names
it (accuracy, mean IoU, mAP@0.5, accuracy at IoU >= 0.5), Run.end_epoch writes the name to status.json as
`best_metric` beside the value `best_val_acc`, and every page that shows a run's best says it through
`best_text` (the run pickers of Inspect and Export; the trainer's epoch message through fmt_score): one place, so
a detector's mAP@0.5 is never printed as a classification accuracy. (Language models keep `best_val_ppl` and say
it themselves.)
"""
from __future__ import annotations

# shown as a number, not a percentage: mAP and IoU are conventionally written 0.734
_PLAIN = ("mAP", "IoU", "NDCG")


def fmt_score(name: str, value: float) -> str:
    """'accuracy 98.10%', 'mAP@0.5 0.734', 'mean IoU 0.812'."""
    if name.startswith(_PLAIN) or name.endswith(_PLAIN):
        return f"{name} {value:.3f}"
    return f"{name} {value:.2%}"


def best_text(run: dict) -> str | None:
    """'best mAP@0.5 0.734' from a run summary (engine.train.runs.list_runs) or a status.json; 'best val 98.1%' for
    a run written before the metric's name was kept; None before the first validation."""
    value = run.get("best_val_acc")
    if not isinstance(value, (int, float)):
        return None
    name = run.get("best_metric")
    return f"best {fmt_score(name, value)}" if name else f"best val {value:.1%}"
