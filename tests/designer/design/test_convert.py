"""What the canvas is sent: every node with its check, the palette from the catalog, the op table's ports."""
import json

import engine
from designer.design.convert import canvas_data, node_views, param_summary
from designer.design.palette import id_prefix, new_node_id, op_table, palette
from designer.design.summary import error_items, human_bytes, human_count, summary_rows, totals
from engine.catalog import catalog_dict


def _data(g: dict) -> dict:
    return canvas_data(g, engine.check(g), rev=3, ack={"mount": "m", "seq": 2}, selected="conv1", select_nonce=1,
                       can_undo=True, can_redo=False)


def test_every_node_of_a_template_has_its_shape_and_count(template_path):
    g = engine.load_graph(template_path("mnist_cnn")).to_dict()
    d = _data(g)
    json.dumps(d)  # it crosses to the browser as JSON
    views = {v["id"]: v for v in d["nodes"]}
    assert list(views) == [n["id"] for n in g["nodes"]]
    assert views["conv1"]["shape"] == "32×28×28" and views["conv1"]["n_params"] == 832
    assert views["flat"]["shape"] == "3136" and views["fc2"]["output"] and not views["fc1"]["output"]
    assert sum(v["n_params"] for v in views.values()) == 3274634
    assert views["conv1"]["summary"] == "32 ch · k 5×5 · pad same"
    assert d["rev"] == 3 and d["select"] == {"id": "conv1", "nonce": 1} and d["can_undo"]


def test_errors_and_blocked_nodes_are_marked(template_path):
    g = engine.load_graph(template_path("mnist_cnn")).to_dict()
    next(n for n in g["nodes"] if n["id"] == "conv2")["params"] = {"out_channels": 64, "kernel_size": 30}
    views = {v["id"]: v for v in _data(g)["nodes"]}
    assert "kernel 30 is larger than the padded input" in views["conv2"]["error"] and views["conv2"]["shape"] is None
    assert views["relu2"]["blocked"] and views["fc2"]["blocked"] and views["relu2"]["error"] is None
    assert views["pool1"]["shape"] == "32×14×14"


def test_nodes_without_positions_are_laid_out():
    g = {"format": "convas-graph", "version": 1, "name": "bare", "outputs": ["b"], "nodes": [
        {"id": "a", "op": "Input", "params": {"shape": [3, 8, 8]}}, {"id": "b", "op": "ReLU", "inputs": ["a"]}]}
    a, b = node_views(g, engine.check(g))
    assert b["y"] > a["y"]


def test_palette_offers_every_catalog_op_once_and_the_blocks():
    groups = [g for g in palette() if not g.get("pinned")]
    ops = [i["name"] for grp in groups for i in grp["items"] if i["kind"] == "op"]
    assert sorted(ops) == sorted(catalog_dict()) and len(ops) == len(set(ops))
    for grp in groups:
        assert grp["colour"].startswith("#") and all(i["doc"] or i["kind"] == "block" for i in grp["items"])
        cats = {catalog_dict()[i["name"]]["category"] for i in grp["items"] if i["kind"] == "op"}
        assert cats <= {grp["category"]}
    blocks = [i["name"] for grp in groups for i in grp["items"] if i["kind"] == "block"]
    assert {"inception", "residual", "fire", "dense", "mlpconv"} <= set(blocks)
    assert groups[0]["category"] == "Input/Output"


def test_palette_starts_with_the_most_used_ops_in_their_own_colours():
    first, *rest = palette()
    assert first["pinned"] and not any(g.get("pinned") for g in rest)
    names = [i["name"] for i in first["items"]]
    assert names[:6] == ["Input", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    for item in first["items"]:  # the same item as in its category, with that category's colour
        (home,) = [g for g in rest if item["name"] in [i["name"] for i in g["items"]]]
        assert item["colour"] == home["colour"]
        assert {k: v for k, v in item.items() if k != "colour"} in home["items"]


def test_op_table_ports():
    t = op_table()
    assert t["Add"]["max_inputs"] is None and t["Add"]["min_inputs"] == 2
    assert t["Input"]["max_inputs"] == 0
    assert t["MaxUnpool2d"]["refs"] == ["pool"]
    assert t["Conv2d"]["colour"] != t["ReLU"]["colour"]


def test_new_ids_are_op_based_and_unique():
    assert new_node_id("Conv2d", {"conv1", "conv2"}) == "conv3"
    assert new_node_id("Linear", []) == "fc1"
    assert new_node_id("LeakyReLU", {"leakyrelu1"}) == "leakyrelu2"
    for op in catalog_dict():
        p = id_prefix(op)
        assert p.isidentifier() and p == p.lower(), op


def test_param_summary_lists_what_the_file_sets():
    assert param_summary("Linear", {"out_features": 10}) == "10 units"
    assert param_summary("Conv2d", {"kernel_size": [3, 5], "stride": 2, "bias": False}) == "k 3×5 · stride 2 · no bias"
    assert param_summary("Input", {"shape": [1, 28, 28]}) == ""
    assert param_summary("NoSuchOp", {"a": 1}) == ""


def test_summary_table_totals_and_memory(template_path):
    g = engine.load_graph(template_path("lenet5")).to_dict()
    r = engine.check(g)
    rows = summary_rows(g, r)
    assert [row["node"] for row in rows] == [n["id"] for n in g["nodes"]]
    assert sum(row["params"] for row in rows) == 61706 == r.total_params
    assert sum(row["MACs"] for row in rows) == r.total_macs > 0
    t64, t128 = totals(r, 64), totals(r, 128)
    assert t64["params_text"] == "61.7k" and t128["memory"] > t64["memory"]
    assert t64["memory"] == r.memory_estimate(64)["total"]


def test_error_rows_and_items(template_path):
    g = engine.load_graph(template_path("mnist_cnn")).to_dict()
    next(n for n in g["nodes"] if n["id"] == "fc1")["inputs"] = ["pool2"]
    r = engine.check(g)
    rows = {row["node"]: row for row in summary_rows(g, r)}
    assert rows["fc1"]["output"] == "error" and rows["fc2"]["output"] == "waiting on input"
    (item,) = [e for e in error_items(r) if e["node"] == "fc1"]
    assert "Flatten" in item["message"] and item["fix"]["op"] == "Flatten"


def test_human_units():
    assert human_count(11689512) == "11.7M" and human_count(3274634) == "3.27M" and human_count(999) == "999"
    assert human_count(123_456_789) == "123M"
    assert human_bytes(94 * 2**20) == "94.0 MiB" and human_bytes(512) == "512 B"
