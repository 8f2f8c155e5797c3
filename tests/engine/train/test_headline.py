"""A run's best number is said with its own name: a detector's mAP@0.5 is not a classification accuracy."""
from __future__ import annotations

from engine.train.headline import best_text, fmt_score


def test_each_task_says_its_headline_metric():
    assert fmt_score("accuracy", 0.981) == "accuracy 98.10%"
    assert fmt_score("mAP@0.5", 0.7342) == "mAP@0.5 0.734"
    assert fmt_score("mean IoU", 0.81234) == "mean IoU 0.812"
    assert fmt_score("accuracy at IoU ≥ 0.5", 0.5) == "accuracy at IoU ≥ 0.5 50.00%"
    assert fmt_score("NDCG@10", 0.25) == "NDCG@10 0.250"


def test_best_text_uses_the_name_the_run_kept():
    assert best_text({"best_val_acc": 0.7342, "best_metric": "mAP@0.5"}) == "best mAP@0.5 0.734"
    assert best_text({"best_val_acc": 0.981}) == "best val 98.1%"  # a run from before the name was kept
    assert best_text({"best_val_acc": None, "best_metric": "mAP@0.5"}) is None



def test_headline_names_each_tasks_best_and_which_way_is_better():
    from engine.train.headline import headline

    h = headline({"best_val_acc": 0.7342, "best_metric": "mAP@0.5"})
    assert (h.name, h.value, h.lower_is_better, h.text) == ("mAP@0.5", 0.7342, False, "mAP@0.5 0.734")
    h = headline({"best_val_acc": None, "best_val_ppl": 85.4321})
    assert (h.name, h.lower_is_better, h.text) == ("perplexity", True, "perplexity 85.43")
    assert headline({"best_val_ppl": 3.2e7}).text == "perplexity 3.2e+07"  # a diverged model, still readable
    assert headline({"best_val_acc": 0.981}).text == "val accuracy 98.10%"  # a run from before the name was kept
    rows = [{"kind": "epoch", "val_ndcg": 0.2}, {"kind": "epoch", "val_ndcg": float("nan")},
            {"kind": "step", "val_ndcg": 0.9}, {"kind": "epoch", "val_ndcg": 0.3}]
    assert headline({}, rows).text == "NDCG@10 0.300"  # an RBM's best epoch; NaN and step rows skipped
    assert headline({}) is None and headline({"best_val_acc": float("nan")}, []) is None
