"""Graph edits behind the canvas: canvas structure -> graph file, outputs, delete, rename, params."""
import json

import pytest

import engine
from engine import edit


def _template(template_path, name="mnist_cnn") -> dict:
    return engine.load_graph(template_path(name)).to_dict()


def _canvas_nodes(g: dict) -> list[dict]:
    """What the canvas sends for a graph it shows unchanged."""
    return [{"id": n["id"], "op": n["op"], "params": n.get("params", {}), "inputs": n.get("inputs", []),
             "x": n["ui"]["x"], "y": n["ui"]["y"]} for n in g["nodes"]]


@pytest.mark.parametrize("name", ["mnist_cnn", "lenet5", "mnist_rmsprop_cnn"])
def test_unchanged_canvas_gives_back_the_same_graph(template_path, name):
    g = _template(template_path, name)
    assert edit.graph_from_canvas(g, _canvas_nodes(g)) == g


def test_canvas_edit_keeps_name_task_and_ui_extras(template_path):
    g = _template(template_path)
    g["nodes"][1]["ui"]["comment"] = "first conv"
    nodes = _canvas_nodes(g)
    nodes[1]["x"] = 321.25
    new = edit.graph_from_canvas(g, nodes)
    assert new["name"] == g["name"] and new["task"] == g["task"]
    assert new["nodes"][1]["ui"] == {"x": 321.2, "y": 100.0, "comment": "first conv"}
    assert g["nodes"][1]["ui"]["x"] == 0.0  # the input graph is never mutated
    assert engine.check(new).ok


def test_appending_after_the_output_moves_the_output_down(template_path):
    g = _template(template_path)
    nodes = _canvas_nodes(g) + [{"id": "softmax1", "op": "Softmax", "params": {}, "inputs": ["fc2"], "x": 0, "y": 1200}]
    new = edit.graph_from_canvas(g, nodes)
    assert new["outputs"] == ["softmax1"]


def test_a_new_unconnected_node_is_not_an_output(template_path):
    g = _template(template_path)
    nodes = _canvas_nodes(g) + [{"id": "conv3", "op": "Conv2d", "params": {}, "inputs": [], "x": 300, "y": 0}]
    new = edit.graph_from_canvas(g, nodes)
    assert new["outputs"] == ["fc2"]
    r = engine.check(new)
    assert r.nodes["conv3"].error and "missing an input" in r.nodes["conv3"].error


def test_an_output_chosen_with_readers_stays_an_output():
    g = {"format": "convas-graph", "version": 1, "name": "aux", "outputs": ["a", "b"], "nodes": [
        {"id": "x", "op": "Input", "params": {"shape": [4]}}, {"id": "a", "op": "Linear", "inputs": ["x"]},
        {"id": "b", "op": "Linear", "inputs": ["a"]}]}
    nodes = [{**n, "params": n.get("params", {}), "inputs": n.get("inputs", []), "x": 0, "y": 0} for n in g["nodes"]]
    nodes.append({"id": "c", "op": "ReLU", "params": {}, "inputs": ["b"], "x": 0, "y": 0})
    assert edit.graph_from_canvas(g, nodes)["outputs"] == ["a", "c"]


def test_deleting_the_output_makes_the_sinks_outputs(template_path):
    g = _template(template_path)
    new = edit.delete_nodes(g, ["fc2"])
    assert new["outputs"] == ["drop"]
    assert engine.check(new).ok


def test_delete_closes_inputs_and_clears_references():
    g = {"format": "convas-graph", "version": 1, "name": "segnet-ish", "outputs": ["up"], "nodes": [
        {"id": "x", "op": "Input", "params": {"shape": [1, 8, 8]}},
        {"id": "a", "op": "ReLU", "inputs": ["x"]}, {"id": "b", "op": "ReLU", "inputs": ["x"]},
        {"id": "cat", "op": "Concat", "inputs": ["a", "b", "a"]},
        {"id": "pool", "op": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["cat"]},
        {"id": "up", "op": "MaxUnpool2d", "params": {"pool": "pool"}, "inputs": ["pool"]}]}
    assert engine.check(g).ok
    new = edit.delete_nodes(g, ["a", "pool"])
    cat = next(n for n in new["nodes"] if n["id"] == "cat")
    up = next(n for n in new["nodes"] if n["id"] == "up")
    assert cat["inputs"] == ["b"]
    assert "inputs" not in up and up["params"] == {"pool": ""}
    assert len(g["nodes"]) == 6  # untouched


def test_rename_updates_every_reference():
    g = {"format": "convas-graph", "version": 1, "name": "r", "outputs": ["up"], "nodes": [
        {"id": "x", "op": "Input", "params": {"shape": [1, 8, 8]}},
        {"id": "pool", "op": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["x"]},
        {"id": "up", "op": "MaxUnpool2d", "params": {"pool": "pool"}, "inputs": ["pool"]}]}
    new = edit.rename_node(g, "pool", "p1")
    assert [n["id"] for n in new["nodes"]] == ["x", "p1", "up"]
    assert new["nodes"][2] == {"id": "up", "op": "MaxUnpool2d", "params": {"pool": "p1"}, "inputs": ["p1"]}
    assert edit.rename_node(g, "up", "out")["outputs"] == ["out"]
    assert engine.check(new).ok


@pytest.mark.parametrize("bad", ["", "   ", "pool"])
def test_rename_refuses_empty_and_taken_ids(bad):
    g = {"format": "convas-graph", "version": 1, "name": "r", "outputs": ["pool"], "nodes": [
        {"id": "x", "op": "Input"}, {"id": "pool", "op": "MaxPool2d", "inputs": ["x"]}]}
    with pytest.raises(ValueError, match="Received"):
        edit.rename_node(g, "x", bad)


def test_set_params_leaves_defaults_out(template_path):
    g = _template(template_path)
    new = edit.set_params(g, "conv1", {"out_channels": 16, "kernel_size": 3, "padding": "same", "bias": True})
    conv1 = next(n for n in new["nodes"] if n["id"] == "conv1")
    assert conv1["params"] == {"padding": "same"}  # 16, 3 and bias=True are Conv2d's defaults
    assert engine.check(new).nodes["conv1"].shape == (16, 28, 28)


def test_set_output_keeps_file_order(template_path):
    g = _template(template_path)
    new = edit.set_output(g, "fc1", True)
    assert new["outputs"] == ["fc1", "fc2"]
    assert edit.set_output(new, "fc2", False)["outputs"] == ["fc1"]


@pytest.mark.parametrize("bad", [None, "nodes", [{"op": "ReLU"}], [{"id": "a", "op": "ReLU", "inputs": "x"}],
                                 [{"id": "a", "op": "ReLU", "x": float("nan")}], [{"id": "a", "op": "ReLU", "y": True}]])
def test_malformed_canvas_messages_are_refused_with_a_reason(template_path, bad):
    with pytest.raises(edit.CanvasError, match="Received"):
        edit.graph_from_canvas(_template(template_path), bad)


def test_results_are_json(template_path):
    g = _template(template_path)
    json.dumps(edit.graph_from_canvas(g, _canvas_nodes(g)))


def test_edits_read_dependencies_as_the_engine_does(template_path):
    """One dependency order: what an edit treats as read (inputs, then node references) is engine.graph's."""
    g = engine.load_graph(template_path("unet")).to_dict()
    g["nodes"].append({"id": "up", "op": "MaxUnpool2d", "params": {"pool": "pool1"}, "inputs": ["head"]})
    parsed = engine.load_graph(g)
    for n in g["nodes"]:
        assert edit.dependencies(n) == engine.graph.dependencies(parsed, parsed.node(n["id"]))
    assert edit.dependencies({"id": "u", "op": "MaxUnpool2d", "params": {"pool": ""}}) == []  # not chosen yet


def test_a_pool_read_only_by_reference_is_not_a_sink():
    nodes = [{"id": "x", "op": "Input"}, {"id": "pool", "op": "MaxPool2d", "inputs": ["x"]},
             {"id": "relu", "op": "ReLU", "inputs": ["x"]},
             {"id": "up", "op": "MaxUnpool2d", "params": {"pool": "pool"}, "inputs": ["relu"]}]
    assert edit.sinks(nodes) == ["up"]
    assert edit.sinks(nodes[:3]) == ["pool", "relu"]
