"""The Design page's health overlay data (designer.design.health) and a design remedy as one undoable edit."""
from __future__ import annotations

import json

from designer.design.health import HEALTH, SEQUENTIAL, health_data
from designer.design.session import DesignSession
from engine.train.advice import Advice, apply_design_remedy
from tests.conftest import TEMPLATES

ROWS = [{"step": 1, "nodes": {"conv1": {"update_ratio": 1e-3, "grad_norm": 0.1, "dead": None},
                              "relu1": {"update_ratio": None, "grad_norm": None, "dead": 0.0}}},
        {"step": 5, "nodes": {"conv1": {"update_ratio": 1e-1, "grad_norm": 10.0, "dead": None},
                              "fc1": {"update_ratio": 1e-3, "grad_norm": 0.01, "dead": None},
                              "relu1": {"update_ratio": None, "grad_norm": None, "dead": 0.75},
                              "gone": {"update_ratio": 1e-3, "grad_norm": 1.0, "dead": None}}}]


def test_health_colours_values_history_and_warnings():
    warn = Advice("dead_relu", ["relu1"], "75% of the units of relu1 are dead", [])
    h = health_data(ROWS, "update_ratio", "run a", True, [warn], {"conv1", "fc1", "relu1"})
    assert h["step"] == 5 and h["label"].startswith("update ratio") and h["live"]
    assert set(h["nodes"]) == {"conv1", "fc1"}  # a ReLU has no update ratio; a node not in the design is left out
    assert h["nodes"]["fc1"]["colour"] == HEALTH[0]  # 1e-3 is healthy: green
    assert h["nodes"]["conv1"]["colour"] == HEALTH[-1]  # two decades above it: red
    assert h["nodes"]["conv1"]["spark"] == [1e-3, 1e-1] and h["nodes"]["conv1"]["text"] == "0.1"
    dead = health_data(ROWS, "dead", "run a", False, [warn], {"conv1", "fc1", "relu1"})
    assert set(dead["nodes"]) == {"relu1"} and dead["nodes"]["relu1"]["text"] == "75%"
    assert dead["nodes"]["relu1"]["warning"].startswith("75%")
    grads = health_data(ROWS, "grad_norm", "run a", False, [], {"conv1", "fc1"})
    assert grads["nodes"]["fc1"]["colour"] == SEQUENTIAL[0] and grads["nodes"]["conv1"]["colour"] == SEQUENTIAL[-1]
    assert grads["low"] == "lowest 0.01" and grads["high"] == "highest 10"  # log scale, relative to the layers
    assert health_data([], "dead", "run a", False, [], {"relu1"}) is None


def test_a_design_remedy_is_one_undoable_edit():
    g = json.loads((TEMPLATES / "lenet5.json").read_text())
    state = {"graph": g}
    stored = []
    ds = DesignSession(state, lambda new, replace: (stored.append(new), state.__setitem__("graph", new)))
    remedy = {"label": "Replace relu1 by LeakyReLU", "kind": "design",
              "edits": [{"kind": "set_op", "node": "relu1", "op": "LeakyReLU"}]}
    assert ds.commit(apply_design_remedy(ds.graph, remedy))
    assert next(n for n in ds.graph["nodes"] if n["id"] == "relu1")["op"] == "LeakyReLU"
    assert ds.undo() and ds.graph == g
    assert ds.redo() and next(n for n in ds.graph["nodes"] if n["id"] == "relu1")["op"] == "LeakyReLU"
