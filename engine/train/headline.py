"""A run's headline number, the one validation figure that picks its best weights: each task's Run.score names
it (accuracy, mean IoU, mAP@0.5, accuracy at IoU >= 0.5), Run.end_epoch writes the name to status.json as
`best_metric` beside the value `best_val_acc`, and every page that shows a run's best says it through
`best_text` (the run pickers of Inspect and Export; the trainer's epoch message through fmt_score): one place, so
a detector's mAP@0.5 is never printed as a classification accuracy. (Language models keep `best_val_ppl` and say
it themselves.)

`headline` gathers a run's best number from whichever of those it kept, for lists that show every kind of run
side by side (the Train page's runs table): the name, the value, which way is better and how it is written.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

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


# The RBM's Run (engine/train/tasks/recommendation.py) keeps no best in status.json: its Run.score, NDCG@10 of the
# validation users (higher is better), is read from its epoch rows instead.
_ROW_SCORES = (("val_ndcg", "NDCG@10"),)


@dataclass(frozen=True)
class Headline:
    name: str  # as the task's Run.score names it: "accuracy", "mAP@0.5", "perplexity", "NDCG@10", ...
    value: float
    lower_is_better: bool = False  # perplexity

    @property
    def text(self) -> str:
        """'accuracy 98.10%', 'mAP@0.5 0.734', 'perplexity 112.35'."""
        if self.name == "perplexity":  # two decimals; three digits for a diverged one (exp(loss) reaches 1e300)
            return f"perplexity {self.value:.2f}" if self.value < 1e5 else f"perplexity {self.value:.3g}"
        return fmt_score(self.name, self.value)


def _finite(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def headline(run: dict, rows: list[dict] | None = None) -> Headline | None:
    """A run's best validation number from its summary (engine.train.runs.list_runs) or status.json; for a run
    that keeps none there, from its metric rows when given. None before the first validation."""
    if _finite(run.get("best_val_acc")):
        return Headline(run.get("best_metric") or "val accuracy", float(run["best_val_acc"]))
    if _finite(run.get("best_val_ppl")):
        return Headline("perplexity", float(run["best_val_ppl"]), lower_is_better=True)
    for key, name in _ROW_SCORES:
        vals = [float(r[key]) for r in rows or () if r.get("kind") == "epoch" and _finite(r.get(key))]
        if vals:
            return Headline(name, max(vals))
    return None
