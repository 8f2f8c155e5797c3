"""New designs: the empty canvas and the starter (Input → Flatten → Linear)."""
import pytest
import torch
import torch.nn as nn

import engine
from engine.starters import STARTS, TITLES, new_design


def test_the_starter_is_a_linear_classifier_of_digits():
    g = new_design("starter")
    r = engine.check(g)
    assert r.ok and [n["op"] for n in g["nodes"]] == ["Input", "Flatten", "Linear"]
    assert r.total_params == sum(p.numel() for p in nn.Linear(28 * 28, 10).parameters()) == 7850
    assert engine.build_module(g)(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_the_empty_design_has_no_node_and_parses():
    g = new_design("empty")
    assert g["nodes"] == [] and g["outputs"] == []
    graph, _ = engine.graph.parse(g)
    assert graph is not None and graph.nodes == []  # it parses, so the app can hold and autosave it


def test_each_call_is_a_fresh_copy_and_unknown_kinds_are_refused():
    a = new_design("starter")
    a["nodes"].clear()
    assert new_design("starter")["nodes"] and set(TITLES) == set(STARTS)
    with pytest.raises(ValueError, match="Expected one of empty, starter. Received: kind='blank'"):
        new_design("blank")
