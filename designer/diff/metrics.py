"""Two runs' final numbers, side by side: plain data for the Diff page's table (no streamlit here)."""
from __future__ import annotations

from typing import Any

# results.json keys that are settings or bookkeeping, not measurements
_NOT_METRICS = {"epoch", "n", "examples_file", "step"}


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def final_metrics(rows: list[dict[str, Any]], status: dict[str, Any], results: dict[str, Any] | None
                  ) -> dict[str, float]:
    """A run's final numbers: the last validation value of each val_* curve, the best validation accuracy, the
    end-of-run evaluation's scalars (named "final <key>", with the split it was measured on when it says), and
    the steps it trained."""
    out: dict[str, float] = {}
    for r in rows:
        for k, v in r.items():
            if k.startswith("val_") and _number(v):
                out[f"last {k}"] = v
    if _number(status.get("best_val_acc")):
        out["best val_acc"] = status["best_val_acc"]
    split = f" ({results['split']})" if results and isinstance(results.get("split"), str) else ""
    for k, v in (results or {}).items():
        if _number(v) and k not in _NOT_METRICS:
            out[f"final {k}{split}"] = v
    if _number(status.get("step")):
        out["steps trained"] = status["step"]
    return out


def side_by_side(a: dict[str, float], b: dict[str, float]) -> list[dict[str, Any]]:
    """Rows {metric, A, B, B − A} over the metrics either run has (A's order first)."""
    keys = list(a) + [k for k in b if k not in a]
    return [{"metric": k, "A": a.get(k), "B": b.get(k),
             "B − A": b[k] - a[k] if k in a and k in b else None} for k in keys]
