"""Dead ReLUs in several layers read as one warning (worst first, each layer's share) with one set of remedies that
covers them all, not one near-identical warning per layer (engine.train.advice)."""
from __future__ import annotations

import pytest

import engine
from engine.train.advice import advise, apply_design_remedy, apply_settings_remedy
from tests.engine.train.test_diagnostics import mlp

SHARES = {"a1": 0.6, "a2": 0.9, "a3": 0.3, "a4": 0.75}  # a3 is below DEAD_SHARE: healthy enough


def rows() -> list[dict]:
    return [{"step": 1, "nodes": {n: {"dead": 0.0} for n in SHARES}},
            {"step": 40, "nodes": {n: {"dead": v, "grad_norm": None, "update_ratio": None} for n, v in SHARES.items()}}]


def test_dead_relus_in_three_layers_are_one_warning_with_one_set_of_remedies():
    g = mlp("four relus", [32, 32, 32, 32], "ReLU")
    found = advise(rows(), engine.load_graph(g), {"lr": 0.5})
    dead = [a for a in found if a.kind == "dead_relu"]
    assert len(dead) == 1
    (a,) = dead
    assert a.nodes == ["a2", "a4", "a1"]  # worst first; a3 is not named
    assert "3 ReLU layers" in a.message and "step 40" in a.message
    assert "a2 (90%), a4 (75%), a1 (60%)" in a.message and "the worst is a2 at 90%" in a.message
    assert "a3" not in a.message
    leaky, bn, lower = a.remedies
    assert [r["label"] for r in a.remedies] == ["Replace a2, a4 and a1 by LeakyReLU",
                                               "Insert a BatchNorm before a2, a4 and a1",
                                               "Lower the learning rate to 0.05 (next run)"]

    fixed = apply_design_remedy(g, leaky)  # one edit of the design for all three layers
    ops = {n["id"]: n["op"] for n in fixed["nodes"]}
    assert [ops[n] for n in ("a1", "a2", "a3", "a4")] == ["LeakyReLU", "LeakyReLU", "ReLU", "LeakyReLU"]

    fixed = apply_design_remedy(g, bn)
    by_id = {n["id"]: n for n in fixed["nodes"]}
    for relu, fc in (("a1", "fc1"), ("a2", "fc2"), ("a4", "fc4")):
        new = by_id[by_id[relu]["inputs"][0]]
        assert new["op"] == "BatchNorm1d" and new["inputs"] == [fc]
    assert by_id["a3"]["inputs"] == ["fc3"]
    assert engine.check(engine.load_graph(fixed)).ok
    assert apply_settings_remedy({"lr": 0.5}, lower)["lr"] == pytest.approx(0.05)


def test_one_dead_layer_keeps_the_single_layer_wording():
    g = mlp("one relu", [32], "ReLU")
    found = advise([{"step": 7, "nodes": {"a1": {"dead": 0.8}}}], engine.load_graph(g), {"lr": 0.1})
    (a,) = found
    assert a.nodes == ["a1"] and a.message.startswith("80% of the units of a1 are dead at step 7")
    assert [r["label"] for r in a.remedies][:2] == ["Replace a1 by LeakyReLU", "Insert BatchNorm1d before a1"]
