"""The Results section says which split its numbers come from: the test split, measured once on the weights the
validation split chose; a run from before the honest splits says its number is optimistic (issue 16)."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from designer.train import splits

NEW = {"task": "classification", "data": "mnist", "split": "test set", "classes": ["0", "1"], "weights": "best",
       "epoch": 3, "n": 10000, "loss": 0.05, "accuracy": 0.9876, "confusion": [[5000, 60], [64, 4876]],
       "per_class_accuracy": [0.988, 0.987], "misclassified": [], "selected_on": "validation",
       "selection": {"val_acc": 0.9912, "val_loss": 0.03},
       "splits": {"train": 54000, "validation": 6000, "test": 10000, "seed": 0, "val_fraction": 0.1,
                  "validation_from": "training set", "test_from": "official test split"}}
OLD = {k: v for k, v in NEW.items() if k not in ("selected_on", "selection", "splits")}


def test_the_note_names_the_test_split_and_what_chose_the_weights():
    note = splits.note(NEW)
    assert note.startswith("Measured once, at the end, on the test set of mnist (10,000 examples)")
    assert "best weights of epoch 3, which the validation split chose (validation accuracy 99.12%)" in note
    assert "54,000 train / 6,000 validation (from the training set, seed 0) / 10,000 test" in note
    assert splits.prefix(NEW) == "Test"


def test_a_run_from_before_says_its_number_is_optimistic():
    note = splits.note({**OLD, "split": "test set"})
    assert "the same split that chose the best weights" in note and splits.prefix(OLD) == "Validation"


def render(res: dict) -> AppTest:
    def script():
        import streamlit as st

        import designer.train.results as R

        R.results_of = lambda run_id: st.session_state.res
        R.render_results("r")

    at = AppTest.from_function(script, default_timeout=60)
    at.session_state.res = res
    return at.run()


def test_the_results_headline_is_the_test_accuracy_with_its_note():
    at = render(NEW)
    assert not at.exception
    assert at.metric[0].label == "Test accuracy" and at.metric[0].value == "98.76%"
    assert at.caption[0].value == splits.note(NEW)
    assert at.success[0].value == "No mistakes on the test set."
    old = render(OLD)
    assert old.metric[0].label == "Validation accuracy" and "optimistic" in old.caption[0].value
