"""Module commands of the Design page without a browser: Make module from the canvas's multi-selection, Detach,
Inline, expand/collapse and editing a definition, each one undoable step through the page's history; and what the
canvas is sent for an expanded instance. engine.check (torch's shapes through the flat graph) is the oracle."""
from __future__ import annotations

import copy

import engine
from designer.design.convert import canvas_data
from tests.designer.design.test_session import canvas_msg, session
from tests.engine.test_modules import small_design


def laid(g: dict) -> dict:
    g = copy.deepcopy(g)
    for i, n in enumerate(g["nodes"]):
        n["ui"] = {"x": 0.0, "y": 120.0 * i}
    return g


def mnist_like() -> dict:
    return laid({"format": "convas-graph", "version": 1, "name": "m", "nodes": [
        {"id": "input", "op": "Input", "params": {"shape": [1, 28, 28]}},
        {"id": "conv1", "op": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3, "padding": 1},
         "inputs": ["input"]},
        {"id": "relu1", "op": "ReLU", "inputs": ["conv1"]},
        {"id": "pool1", "op": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["relu1"]},
        {"id": "flat", "op": "Flatten", "inputs": ["pool1"]},
        {"id": "fc", "op": "Linear", "params": {"out_features": 10}, "inputs": ["flat"]}], "outputs": ["fc"]})


def shapes(g: dict) -> dict:
    r = engine.check(g)
    return {k: (v.shape, v.params) for k, v in r.nodes.items()}


def test_the_canvas_multi_selection_makes_a_module_in_one_undoable_step():
    g = mnist_like()
    ds, _ = session(g)
    before = shapes(g)
    ds.adopt_canvas({**canvas_msg(g, selected=None), "selected_ids": ["conv1", "relu1", "pool1"]})
    assert ds.multi == ["conv1", "relu1", "pool1"]
    assert ds.make_module(ds.multi, " ConvBlock ")
    new = ds.graph
    inst = next(n for n in new["nodes"] if n["op"] == "ConvBlock")
    assert [n["op"] for n in new["modules"]["ConvBlock"]["nodes"]] == ["Conv2d", "ReLU", "MaxPool2d"]
    assert ds.selected == inst["id"] and ds.selected_instance and ds.multi == []
    after = shapes(new)
    assert after[inst["id"]] == (before["pool1"][0], before["conv1"][1])  # the block's output, its params
    assert after["fc"] == before["fc"]
    assert ds.undo() and ds.graph == g
    assert ds.redo() and ds.graph == new


def test_a_selection_that_is_not_one_block_is_refused_with_a_notice():
    g = mnist_like()
    ds, _ = session(g)
    assert not ds.make_module(["input", "conv1"], "Stem")
    assert "Input" in ds.notice() and ds.graph == g
    assert not ds.make_module(["conv1", "relu1"], "Conv2d")  # a catalog op's name
    assert "catalog op" in ds.notice() and not ds.history.can_undo


def test_a_single_card_is_not_a_multi_selection():
    g = mnist_like()
    ds, _ = session(g)
    ds.adopt_canvas({**canvas_msg(g, selected="conv1"), "selected_ids": ["conv1"]})
    assert ds.multi == [] and ds.selected == "conv1"


def test_editing_a_definition_changes_every_instance_and_undoes():
    g = laid(small_design())
    ds, _ = session(g)
    assert ds.set_inner_params("Unit", "conv", {"kernel_size": 5, "padding": 2})
    r = engine.check(ds.graph)
    # torch's count for conv(k5) + BN per instance: the three instances all changed
    assert r.nodes["u1"].params == 8 * 8 * 25 + 8 + 2 * 8
    assert r.nodes["u3"].params == 16 * 8 * 25 + 16 + 2 * 16
    data = canvas_data(ds.graph, r, rev=ds.rev, ack=None, selected=None, select_nonce=0, can_undo=True,
                       can_redo=False)
    assert {n["id"]: n["n_params"] for n in data["nodes"] if n.get("module")} == \
        {k: r.nodes[k].params for k in ("u1", "u2", "u3")}
    assert ds.undo() and engine.check(ds.graph).nodes["u1"].params == 8 * 8 * 9 + 8 + 2 * 8


def test_detach_gives_one_instance_its_own_definition():
    g = laid(small_design())
    ds, _ = session(g)
    assert ds.detach("u2")
    own = next(n for n in ds.graph["nodes"] if n["id"] == "u2")["op"]
    assert own != "Unit" and own in ds.graph["modules"]
    assert ds.set_inner_params(own, "conv", {"kernel_size": 1, "padding": 0})
    r = engine.check(ds.graph)
    assert r.nodes["u2"].params == 8 * 8 * 1 + 8 + 2 * 8  # only the detached one changed
    assert r.nodes["u1"].params == 8 * 8 * 9 + 8 + 2 * 8  # the others kept the 3×3 conv
    assert ds.undo() and ds.undo() and ds.graph == g


def test_inline_expands_an_instance_into_its_layers_with_the_same_shapes():
    g = laid(small_design())
    ds, _ = session(g)
    ds.select("u2")
    before = shapes(g)
    assert ds.inline("u2")
    ids = [n["id"] for n in ds.graph["nodes"]]
    assert "u2" not in ids and {"u2_conv", "u2_bn", "u2_act"} <= set(ids)
    after = shapes(ds.graph)
    assert after["u2_act"][0] == before["u2"][0] and after["fc"] == before["fc"]
    assert ds.selected is None
    assert ds.undo() and ds.graph == g


def test_expanded_state_is_ui_only_undoable_and_sends_the_inner_layers():
    g = laid(small_design())
    ds, _ = session(g)
    assert ds.run_command({"kind": "expand", "id": "u1", "expanded": True, "nonce": 1})
    assert next(n for n in ds.graph["nodes"] if n["id"] == "u1")["ui"]["expanded"] is True
    r = engine.check(ds.graph)
    data = canvas_data(ds.graph, r, rev=ds.rev, ack=None, selected=None, select_nonce=0, can_undo=True,
                       can_redo=False)
    u1 = next(n for n in data["nodes"] if n["id"] == "u1")
    assert u1["expanded"] and [m["id"] for m in u1["inner"]] == ["conv", "bn", "act"]
    assert [m["shape"] for m in u1["inner"]] == ["8×12×12"] * 3
    assert u1["inner"][0]["n_params"] == 8 * 8 * 9 + 8
    u2 = next(n for n in data["nodes"] if n["id"] == "u2")
    assert u2["module"] == "Unit" and not u2["expanded"] and "inner" not in u2
    assert ds.run_command({"kind": "expand", "id": "u1", "expanded": False, "nonce": 2})
    assert "expanded" not in next(n for n in ds.graph["nodes"] if n["id"] == "u1")["ui"]
    assert ds.undo() and ds.undo() and ds.graph == g
    assert not ds.run_command({"kind": "expand", "id": "stem", "expanded": True, "nonce": 3})
    assert "not a module instance" in ds.notice()


def test_a_broken_inner_layer_is_named_on_the_expanded_card():
    g = laid(small_design())
    g["nodes"][2]["ui"]["expanded"] = True
    ds, _ = session(g)
    assert ds.set_inner_params("Unit", "conv", {"kernel_size": 40})
    r = engine.check(ds.graph)
    data = canvas_data(ds.graph, r, rev=ds.rev, ack=None, selected=None, select_nonce=0, can_undo=True,
                       can_redo=False)
    u1 = next(n for n in data["nodes"] if n["id"] == "u1")
    assert "inside Unit 'conv'" in u1["error"] and u1["shape"] is None
    conv = u1["inner"][0]
    assert conv["id"] == "conv" and "kernel 40" in conv["error"] and conv["shape"] is None


def test_a_canvas_edit_keeps_modules_and_the_expanded_state():
    g = laid(small_design())
    g["nodes"][2]["ui"]["expanded"] = True
    ds, _ = session(g)

    def move(nodes):
        nodes[-1]["x"] = 50.0

    assert ds.adopt_canvas(canvas_msg(g, change=move))
    assert ds.graph["modules"] == g["modules"] and ds.graph["nodes"][2]["ui"]["expanded"] is True


def test_a_layer_clicked_on_an_expanded_card_is_selected_and_collapse_returns_to_the_instance():
    g = laid(small_design())
    g["nodes"][2]["ui"]["expanded"] = True
    ds, _ = session(g)
    nonce = ds.state["design_select_nonce"]
    assert ds.run_command({"kind": "select_inner", "id": "u1", "inner": "conv", "nonce": 1})
    assert ds.selected == "u1" and ds.selected_inner == "conv"  # the canvas is told to select the card
    assert ds.state["design_select_nonce"] == nonce + 1 and not ds.history.can_undo  # a selection, not an edit
    r = engine.check(ds.graph)
    data = canvas_data(ds.graph, r, rev=ds.rev, ack=None, selected=ds.selected, select_nonce=1, can_undo=False,
                       can_redo=False, selected_inner=ds.selected_inner)
    assert data["select"] == {"id": "u1", "nonce": 1, "inner": "conv"}
    # the canvas reporting the same card keeps the layer; another card drops it
    ds.adopt_canvas(canvas_msg(g, seq=1, selected="u1"))
    assert ds.selected_inner == "conv"
    ds.adopt_canvas(canvas_msg(g, seq=2, selected="stem"))
    assert ds.selected == "stem" and ds.selected_inner is None
    # an edit of the layer keeps it selected; collapsing the card returns to the instance
    assert ds.select_inner("u1", "bn")
    assert ds.set_inner_params("Unit", "bn", {"eps": 0.001}) and ds.selected_inner == "bn"
    assert ds.set_expanded("u1", False)
    assert ds.selected == "u1" and ds.selected_inner is None and ds.selected_instance
    # a layer the definition no longer has (undo of a detach, a stale click) is not selected
    assert not ds.run_command({"kind": "select_inner", "id": "u1", "inner": "nope", "nonce": 2})
    assert ds.selected_inner is None
    assert not ds.select_inner("ghost", "conv") and ds.selected == "u1"


def test_renaming_a_module_is_one_undoable_step_and_a_bad_name_is_a_notice():
    g = laid(small_design())
    ds, _ = session(g)
    assert ds.rename_module("Unit", "ConvUnit")
    assert {n["op"] for n in ds.graph["nodes"] if n["id"] in ("u1", "u2", "u3")} == {"ConvUnit"}
    assert "class ConvUnit(nn.Module)" in engine.to_python(ds.graph)
    assert not ds.rename_module("ConvUnit", "Net")
    assert "exported file" in ds.notice() and "ConvUnit" in ds.graph["modules"]
    assert ds.undo() and ds.graph == g
    assert ds.redo() and "ConvUnit" in ds.graph["modules"]


def test_a_command_does_not_bring_back_a_selection_python_has_moved_since():
    g = laid(small_design())
    ds, _ = session(g)
    last = canvas_msg(g, seq=1, selected=None)  # the canvas's state value: nothing selected
    ds.adopt_canvas(last)
    ds.select_inner("u1", "conv")  # Python moves the selection (the canvas follows without a new state value)
    # the expand button's command: its callback reads the canvas's (old) state value for an edit it may carry
    ds.adopt_canvas(last, selection=False)
    assert ds.run_command({"kind": "expand", "id": "u1", "expanded": True, "nonce": 1})
    assert ds.selected == "u1" and ds.selected_inner == "conv"


def test_an_instance_argument_equal_to_the_default_is_left_out_so_a_resent_field_is_no_undo_step():
    from designer.design.module_panel import with_arg

    g = laid(small_design())
    ds, _ = session(g)
    u2 = next(n for n in g["nodes"] if n["id"] == "u2")
    defaults = g["modules"]["Unit"]["args"]  # ch 8, stride 1
    assert with_arg(u2["params"], defaults, "stride", 1) == {"ch": 8}
    assert with_arg(u2["params"], defaults, "ch", 16) == {"ch": 16, "stride": 2}
    u1 = next(n for n in g["nodes"] if n["id"] == "u1")
    assert not ds.set_params("u1", with_arg(u1["params"], defaults, "stride", 1))  # the field's value, re-sent
    assert not ds.history.can_undo
