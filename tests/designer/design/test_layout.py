"""Auto-layout: edges point down, cards never overlap, chains stay straight, skip lines get their own column."""
import pytest

import engine
from designer.design.edit import dependencies
from designer.design.layout import LAYER_DY, NODE_W, auto_layout, layout_positions
from designer.design.session import DesignSession


def _residual_graph() -> dict:
    """An Inception module followed by a residual block, inserted the way the palette does it."""
    state = {"graph_rev": 0, "graph": {"format": "convas-graph", "version": 1, "name": "b", "outputs": ["x"],
                                       "nodes": [{"id": "x", "op": "Input", "params": {"shape": [16, 8, 8]}}]}}
    ds = DesignSession(state, lambda g, replace: state.__setitem__("graph", g))
    assert ds.add_block("inception", 0, 100, "x")
    assert ds.add_block("residual", 0, 600, ds.graph["outputs"][0])
    return ds.graph


def _check_layout(nodes: list[dict]) -> dict:
    pos = layout_positions(nodes)
    assert set(pos) == {n["id"] for n in nodes}
    for n in nodes:  # every edge points down, by whole layers
        for d in dependencies(n):
            assert pos[d][1] < pos[n["id"]][1], (d, n["id"])
            assert (pos[n["id"]][1] - pos[d][1]) % LAYER_DY == 0
    rows: dict[float, list[float]] = {}
    for x, y in pos.values():
        rows.setdefault(y, []).append(x)
    for xs in rows.values():  # cards in one layer never overlap
        xs.sort()
        assert all(b - a >= NODE_W for a, b in zip(xs, xs[1:]))
    return pos


@pytest.mark.parametrize("name", ["mnist_cnn", "lenet5", "mnist_rmsprop_cnn"])
def test_a_chain_is_one_straight_column(template_path, name):
    g = engine.load_graph(template_path(name)).to_dict()
    pos = _check_layout(g["nodes"])
    assert len({x for x, _ in pos.values()}) == 1
    assert sorted(y for _, y in pos.values()) == [i * LAYER_DY for i in range(len(g["nodes"]))]


def test_branches_spread_and_merges_come_back():
    g = _residual_graph()
    pos = _check_layout(g["nodes"])
    concat = next(n for n in g["nodes"] if n["op"] == "Concat")
    branch_xs = sorted(pos[i][0] for i in concat["inputs"])
    assert len(set(branch_xs)) == 4  # the four Inception branches side by side
    assert min(branch_xs) < pos[concat["id"]][0] < max(branch_xs)


def test_a_skip_connection_does_not_run_through_the_blocks_it_skips():
    nodes = [{"id": "in", "op": "Input"}, {"id": "c1", "op": "Conv2d", "inputs": ["in"]},
             {"id": "r1", "op": "ReLU", "inputs": ["c1"]}, {"id": "c2", "op": "Conv2d", "inputs": ["r1"]},
             {"id": "add", "op": "Add", "inputs": ["c2", "in"]}]
    pos = _check_layout(nodes)
    skip_x = pos["in"][0] + NODE_W / 2  # the skip line runs straight down from the input's centre...
    for mid in ("c1", "r1", "c2"):  # ...and clears every card it passes
        assert not pos[mid][0] <= skip_x <= pos[mid][0] + NODE_W


def test_cycles_and_dangling_inputs_still_get_a_place():
    nodes = [{"id": "a", "op": "ReLU", "inputs": ["b"]}, {"id": "b", "op": "ReLU", "inputs": ["a"]},
             {"id": "c", "op": "ReLU", "inputs": ["ghost"]}]
    pos = layout_positions(nodes)
    assert len(set(pos.values())) == 3


def test_auto_layout_is_deterministic_and_keeps_ui_extras(template_path):
    g = engine.load_graph(template_path("lenet5")).to_dict()
    g["nodes"][0]["ui"]["comment"] = "kept"
    a, b = auto_layout(g), auto_layout(g)
    assert a == b and a["nodes"][0]["ui"]["comment"] == "kept"
    assert engine.check(a).ok
