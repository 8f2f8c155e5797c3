"""The one auto-layout (canvas button, block inserts, imports, templates): edges point down, cards never overlap,
chains stay straight, skip lines get their own column, and the canvas gets the sizes it was laid out with."""
import pytest

import engine
from designer.design.convert import layout_sizes
from designer.design.session import DesignSession
from engine.edit import dependencies
from engine.layout import SIZES, auto_layout, layered_layout, layout_positions

LAYER_DY, NODE_W = SIZES.layer_dy, SIZES.node_w


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


def test_the_canvas_gets_the_sizes_the_layout_uses():
    assert layout_sizes() == {"node_w": 200.0, "node_h": 76.0, "layer_dy": 120.0, "col_dx": 236.0,
                              "inner_head_h": 18.0, "inner_row_h": 34.0}
    assert all(isinstance(v, float) for v in layout_sizes().values())
    assert SIZES.col_dx >= SIZES.node_w and SIZES.layer_dy > SIZES.node_h  # laid-out cards cannot touch


@pytest.mark.parametrize("name", ["googlenet", "resnet18", "unet", "densenet121"])
def test_graphs_and_canvas_dicts_get_the_same_layout(template_path, name):
    """One algorithm: an import or template (a Graph) and the canvas's Auto-layout (dicts) place cards alike."""
    g = engine.load_graph(template_path(name))
    laid = layered_layout(g)
    assert {n.id: (n.ui.x, n.ui.y) for n in laid.nodes} == layout_positions(g.to_dict()["nodes"])
    assert [n.ui.group for n in laid.nodes] == [n.ui.group for n in g.nodes]  # groups survive a re-layout
    _check_layout(g.to_dict()["nodes"])


def test_a_node_reference_counts_as_an_edge():
    """A MaxUnpool2d reads its pool's indices: it sits below the pool even though its only wire comes from above
    the pool."""
    nodes = [{"id": "x", "op": "Input"}, {"id": "c1", "op": "Conv2d", "inputs": ["x"]},
             {"id": "pool", "op": "MaxPool2d", "inputs": ["c1"]},
             {"id": "up", "op": "MaxUnpool2d", "params": {"pool": "pool"}, "inputs": ["x"]}]
    pos = _check_layout(nodes)
    assert pos["up"][1] == 3 * LAYER_DY


def test_a_source_with_many_skips_does_not_fan_out():
    """DenseNet-style: every layer reads the block's input. Lanes for all of them would spread the block into a
    wide fan, so such a source gets none, and its chain stays one column."""
    nodes = [{"id": "x", "op": "Input"}]
    prev = "x"
    for i in range(6):
        nodes.append({"id": f"cat{i}", "op": "Concat", "inputs": [prev, "x"]})
        nodes.append({"id": f"conv{i}", "op": "Conv2d", "inputs": [f"cat{i}"]})
        prev = f"conv{i}"
    pos = _check_layout(nodes)
    assert len({x for x, _ in pos.values()}) == 1
