"""The Inspect run picker says each run's best with its own metric."""
from __future__ import annotations

from designer.inspect.views import _run_label


def test_the_inspect_run_picker_shows_a_detectors_map():
    r = {"name": "Tiny grid detector", "created": 0, "status": "finished", "best_val_acc": 0.512,
         "best_metric": "mAP@0.5"}
    assert _run_label(r).endswith(" · best mAP@0.5 0.512")
    assert _run_label({**r, "best_metric": None, "best_val_acc": 0.98}).endswith(" · best val 98.0%")
