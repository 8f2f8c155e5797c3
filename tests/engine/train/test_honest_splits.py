"""Honest splits: validation is carved from the training examples, picks the best weights, and the test split is
evaluated once, at the end, on those weights (issue 16, "The test set picks the best weights")."""
from __future__ import annotations

import json

import pytest
import torch

import engine.train.evaluate as evaluate_mod
import engine.train.loop as loop_mod
from engine.data import DataError, load_data
from engine.data.base import carve_validation, split_holdout
from engine.train.evaluate import evaluate
from engine.train.runs import load_trained
from engine.train.trainer import TrainConfig, train
from tests.engine.train.test_trainer import SMALL


def ids(x: torch.Tensor) -> set[int]:
    return set(x.flatten().tolist())


def test_a_source_without_a_test_split_is_split_three_ways_disjoint_and_seeded():
    x = torch.arange(200).reshape(200, 1, 1, 1)  # each example is its own id
    y = torch.arange(200) % 2
    d = split_holdout("ids", ["a", "b"], x, y, val_fraction=0.2, seed=3)
    tr, va, te = ids(d.x_train), ids(d.x_val), ids(d.x_test)
    assert (len(tr), len(va), len(te)) == (144, 36, 20)
    assert not tr & va and not tr & te and not va & te and tr | va | te == set(range(200))
    other = split_holdout("ids", ["a", "b"], x, y, val_fraction=0.3, seed=4)
    assert ids(other.x_test) == te  # the test split is the same for every run of the source
    assert ids(other.x_val) != va and ids(other.x_val) <= set(range(200)) - te
    assert ids(split_holdout("ids", ["a", "b"], x, y, val_fraction=0.2, seed=3).x_val) == va  # seeded
    assert d.info["splits"]["validation_from"] == "training set" and d.info["splits"]["seed"] == 3


def test_validation_is_carved_from_train_and_the_official_test_is_kept_whole():
    xt, yt = torch.arange(100).reshape(100, 1, 1, 1), torch.zeros(100, dtype=torch.int64)
    xs, ys = torch.arange(100, 130).reshape(30, 1, 1, 1), torch.ones(30, dtype=torch.int64)
    d = carve_validation("set", ["a", "b"], xt, yt, xs, ys, 0.1, seed=0)
    assert ids(d.x_val) <= set(range(100)) and len(d.x_val) == 10 and not ids(d.x_val) & ids(d.x_train)
    assert ids(d.x_train) | ids(d.x_val) == set(range(100)) and torch.equal(d.x_test, xs)
    assert d.val_name == "validation" and d.test_name == "test set"
    with pytest.raises(DataError, match="too few examples"):
        carve_validation("set", ["a"], xt[:1], yt[:1], xs, ys, 0.1, seed=0)


@pytest.mark.slow
def test_best_weights_are_chosen_on_validation_and_the_test_is_evaluated_once_at_the_end(tmp_path, monkeypatch):
    seen: list[tuple[str, torch.Tensor]] = []  # (where, x) of every evaluation, in order

    def spy(where, fn):
        def wrapped(model, x, *a, **kw):
            seen.append((where, x))
            return fn(model, x, *a, **kw)
        return wrapped

    monkeypatch.setattr(loop_mod, "evaluate", spy("loop", evaluate))
    monkeypatch.setattr(evaluate_mod, "evaluate", spy("results", evaluate))
    cfg = TrainConfig(data="mnist-sample", limit=256, batch_size=64, epochs=3, log_every=2, lr=3e-3,
                      optimizer="adam", val_every=2, seed=5)
    run = train(SMALL, cfg, tmp_path / "r")
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    data = load_data("mnist-sample", val_fraction=0.1, seed=5, limit=256)
    on = lambda x, split: x.shape == split.shape and torch.equal(x.cpu(), split)
    assert all(on(x, data.x_val) for _, x in seen[:-1]) and len(seen) > 3  # during training: validation only
    assert [w for w, _ in seen].count("results") == 1 and seen[-1][0] == "results" and on(seen[-1][1], data.x_test)
    assert not any(on(x, data.x_test) for _, x in seen[:-1])

    # the best epoch is the one with the best validation accuracy, and results are the test's numbers for it
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in rows if r["kind"] == "epoch"]
    best = max(epochs, key=lambda r: r["val_acc"])  # first maximum: a later tie does not replace it
    res = json.loads((run / "results.json").read_text())
    assert res["epoch"] == best["epoch"] and res["selected_on"] == "validation" and res["split"] == "test"
    assert res["selection"]["val_acc"] == best["val_acc"] and res["n"] == len(data.x_test)
    assert res["splits"] == {"train": 256, "validation": 900, "test": 1000, "seed": 5, "val_fraction": 0.1,
                             "validation_from": "training set", "test_from": "held-out 10% (fixed seed 0)",
                             "limit": 256}
    _, model = load_trained(run, "best")
    oracle = evaluate(model, data.x_test, data.y_test, 10, batch=512, amp=None, squeeze=False, channels_last=False)
    assert res["accuracy"] == pytest.approx(oracle["val_acc"]) and res["loss"] == pytest.approx(oracle["val_loss"])
    val = evaluate(model, data.x_val, data.y_val, 10, batch=512, amp=None, squeeze=False, channels_last=False)
    assert val["val_acc"] == pytest.approx(best["val_acc"])
    tests = [r for r in rows if r["kind"] == "test"]  # one test row, logged last
    assert len(tests) == 1 and rows[-1] is tests[0] and tests[0]["test_acc"] == pytest.approx(oracle["val_acc"])
