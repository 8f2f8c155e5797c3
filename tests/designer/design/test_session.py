"""The Design page's state machine without a browser: canvas messages, commands, fixes, blocks, undo."""
import copy

import pytest

import engine
from designer.design.session import DesignSession


class Store:
    """Stands in for designer.state.set_graph: stores the graph and bumps the revision on a replace."""

    def __init__(self, state: dict):
        self.state = state
        self.saved: list[tuple[dict, bool]] = []

    def __call__(self, g: dict, replace: bool) -> None:
        self.state["graph"] = g
        if replace:
            self.state["graph_rev"] += 1
        self.saved.append((g, replace))


def session(graph: dict) -> tuple[DesignSession, Store]:
    state = {"graph": graph, "graph_rev": 0}
    store = Store(state)
    return DesignSession(state, store), store


def canvas_msg(g: dict, *, rev=0, mount="m1", seq=1, selected=None, change=None) -> dict:
    nodes = [{"id": n["id"], "op": n["op"], "params": copy.deepcopy(n.get("params", {})),
              "inputs": list(n.get("inputs", [])), "x": n["ui"]["x"], "y": n["ui"]["y"]} for n in g["nodes"]]
    if change:
        change(nodes)
    return {"rev": rev, "mount": mount, "seq": seq, "nodes": nodes, "selected": selected}


@pytest.fixture
def mnist(template_path) -> dict:
    return engine.load_graph(template_path("mnist_cnn")).to_dict()


def add_conv_after_pool2(nodes):
    nodes.append({"id": "conv3", "op": "Conv2d", "params": {}, "inputs": ["pool2"], "x": 300, "y": 600})


def test_a_canvas_edit_is_adopted_autosaved_and_undoable(mnist):
    ds, store = session(mnist)
    assert ds.adopt_canvas(canvas_msg(mnist, change=add_conv_after_pool2, selected="conv3"))
    assert store.saved[-1][1] is False  # the canvas already shows it: no revision bump
    assert ds.rev == 0 and ds.selected == "conv3"
    assert engine.check(ds.graph).nodes["conv3"].shape == (16, 5, 5)
    assert ds.undo() and ds.rev == 1
    assert [n["id"] for n in ds.graph["nodes"]] == [n["id"] for n in mnist["nodes"]]
    assert ds.redo() and any(n["id"] == "conv3" for n in ds.graph["nodes"])


def test_each_canvas_message_is_adopted_once_and_a_new_mount_starts_over(mnist):
    ds, store = session(mnist)
    msg = canvas_msg(mnist, change=add_conv_after_pool2)
    assert ds.adopt_canvas(msg)
    ds.undo()
    msg["rev"] = ds.rev
    assert not ds.adopt_canvas(msg)  # the same (mount, seq) again: already seen
    assert ds.adopt_canvas({**msg, "mount": "m2", "seq": 1})  # a remounted canvas counts from 1 again


def test_an_edit_made_on_a_replaced_graph_is_dropped(mnist):
    ds, store = session(mnist)
    ds.set_params("conv1", {"out_channels": 8, "kernel_size": 5, "padding": "same"})  # Python replaced: rev 1
    stale = canvas_msg(mnist, rev=0, seq=1, change=add_conv_after_pool2, selected="conv1")
    assert not ds.adopt_canvas(stale)
    assert not any(n["id"] == "conv3" for n in ds.graph["nodes"])
    assert ds.selected == "conv1"  # the selection still applies: the node exists


def test_selection_only_messages_change_nothing_else(mnist):
    ds, store = session(mnist)
    assert not ds.adopt_canvas(canvas_msg(mnist, selected="fc1"))
    assert ds.selected == "fc1" and not store.saved and not ds.history.can_undo
    ds.adopt_canvas(canvas_msg(mnist, selected="ghost", seq=2))
    assert ds.selected == "fc1"  # an id the graph does not have is ignored


def test_a_malformed_canvas_message_leaves_the_graph_and_says_why(mnist):
    ds, store = session(mnist)
    assert not ds.adopt_canvas({"rev": 0, "mount": "m", "seq": 1, "nodes": "oops"})
    assert ds.graph is mnist and "cannot take" in ds.notice()
    assert ds.notice() is None  # shown once
    assert not ds.adopt_canvas(None) and not ds.adopt_canvas({"seq": "1"})


def test_commands_undo_redo_layout(mnist):
    ds, store = session(mnist)
    ds.adopt_canvas(canvas_msg(mnist, change=add_conv_after_pool2))
    assert ds.run_command({"kind": "layout", "nonce": 1})
    ui = {n["id"]: n["ui"] for n in ds.graph["nodes"]}
    assert ui["conv3"]["y"] == ui["flat"]["y"] and ui["conv3"]["x"] != ui["flat"]["x"]  # side by side under pool2
    assert ds.run_command({"kind": "undo", "nonce": 2})
    assert ds.graph["nodes"][-1]["ui"] == {"x": 300.0, "y": 600.0}
    assert ds.run_command({"kind": "redo", "nonce": 3})
    assert not ds.run_command({"kind": "explode"}) and not ds.run_command("undo")


def test_a_template_opened_elsewhere_is_one_undo_step(mnist, template_path):
    ds, store = session(mnist)
    ds.note_external_change()
    lenet = engine.load_graph(template_path("lenet5")).to_dict()
    ds.state["graph"], ds.state["graph_rev"] = lenet, 5  # the sidebar's set_graph
    ds.note_external_change()
    assert ds.undo() and ds.graph == mnist


def test_insert_flatten_fix(mnist):
    broken = copy.deepcopy(mnist)
    broken["nodes"] = [n for n in broken["nodes"] if n["id"] != "flat"]
    next(n for n in broken["nodes"] if n["id"] == "fc1")["inputs"] = ["pool2"]
    ds, _ = session(broken)
    from engine.fixes import suggest_fixes

    fixes = suggest_fixes(ds.graph, engine.check(ds.graph))
    assert [f["title"] for f in fixes] == ["Insert Flatten before fc1"]
    assert ds.apply_fix(fixes[0])
    r = engine.check(ds.graph)
    assert r.ok and r.total_params == 3274634
    assert ds.undo() and not engine.check(ds.graph).ok


def test_padding_same_fix_for_a_kernel_larger_than_its_input(mnist):
    ds, _ = session(mnist)
    ds.adopt_canvas(canvas_msg(mnist, change=add_conv_after_pool2))
    ds.set_params("conv3", {"kernel_size": 9})
    r = engine.check(ds.graph)
    assert "kernel 9 is larger than the padded input height 7" in r.nodes["conv3"].error
    from engine.fixes import suggest_fixes

    fix, _largest = suggest_fixes(ds.graph, r)  # padding 'same', or the largest kernel that fits
    assert fix["title"] == "Set padding of conv3 to 'same'"
    ds.apply_fix(fix)
    assert engine.check(ds.graph).nodes["conv3"].shape == (16, 7, 7)


def test_one_by_one_conv_fix_for_an_add_with_mismatched_channels():
    g = {"format": "convas-graph", "version": 1, "name": "res", "outputs": ["add"], "nodes": [
        {"id": "x", "op": "Input", "params": {"shape": [16, 8, 8]}, "ui": {"x": 0, "y": 0}},
        {"id": "conv", "op": "Conv2d", "params": {"out_channels": 32, "padding": 1}, "inputs": ["x"],
         "ui": {"x": 0, "y": 100}},
        {"id": "add", "op": "Add", "inputs": ["conv", "x"], "ui": {"x": 0, "y": 200}}]}
    ds, _ = session(g)
    from engine.fixes import suggest_fixes

    (fix,) = suggest_fixes(ds.graph, engine.check(ds.graph))
    assert "1×1 Conv2d with 32 filters" in fix["title"]
    ds.apply_fix(fix)
    assert engine.check(ds.graph).nodes["add"].shape == (32, 8, 8)


@pytest.mark.parametrize("block", ["inception", "residual", "bottleneck", "fire", "dense", "mlpconv"])
def test_blocks_drop_in_as_wired_groups(block):
    g = {"format": "convas-graph", "version": 1, "name": "b", "outputs": ["x"], "nodes": [
        {"id": "x", "op": "Input", "params": {"shape": [64, 56, 56]}, "ui": {"x": 0, "y": 0}}]}
    ds, _ = session(g)
    assert ds.run_command({"kind": "add_block", "name": block, "x": 40, "y": 120, "after": "x", "nonce": 1})
    r = engine.check(ds.graph)
    assert r.ok, r.errors
    new = [n for n in ds.graph["nodes"] if n["id"] != "x"]
    assert len(new) >= 3 and all(n["ui"]["y"] >= 120 and n["ui"]["x"] >= 40 for n in new)
    assert ds.graph["outputs"] == [ds.selected]  # the block's output took over and is selected
    assert len({n["id"] for n in ds.graph["nodes"]}) == len(ds.graph["nodes"])
    # a second one gets its own prefix
    assert ds.run_command({"kind": "add_block", "name": block, "x": 40, "y": 900, "after": ds.selected, "nonce": 2})
    assert len({n["id"] for n in ds.graph["nodes"]}) == len(ds.graph["nodes"])


def test_a_block_dropped_on_empty_canvas_gets_one_entry_to_connect():
    g = {"format": "convas-graph", "version": 1, "name": "b", "outputs": ["x"], "nodes": [
        {"id": "x", "op": "Input", "params": {"shape": [64, 28, 28]}, "ui": {"x": 0, "y": 0}}]}
    ds, _ = session(g)
    assert ds.add_block("inception", 300, 0, None)
    entry = next(n for n in ds.graph["nodes"] if n["id"] == "inc1_in")
    assert entry["op"] == "Identity" and "inputs" not in entry
    r = engine.check(ds.graph)
    assert [e.node for e in r.errors] == ["inc1_in"]  # only the entry waits for its input
    msg = canvas_msg(ds.graph, rev=ds.rev, change=lambda ns: next(n for n in ns if n["id"] == "inc1_in")
                     ["inputs"].append("x"))
    assert ds.adopt_canvas(msg)
    assert engine.check(ds.graph).ok


def test_unknown_block_is_a_notice_not_a_crash(mnist):
    ds, _ = session(mnist)
    assert not ds.run_command({"kind": "add_block", "name": "nope", "x": 0, "y": 0, "after": None})
    assert "unknown block" in ds.notice()


def test_delete_and_rename_follow_the_selection(mnist):
    ds, _ = session(mnist)
    ds.select("drop")
    ds.rename("drop", "dropout")
    assert ds.selected == "dropout"
    ds.delete(["dropout"])
    assert ds.selected is None
    assert "inputs" not in next(n for n in ds.graph["nodes"] if n["id"] == "fc2")


def test_a_fix_made_stale_by_a_canvas_edit_is_refused_politely(mnist):
    broken = copy.deepcopy(mnist)
    next(n for n in broken["nodes"] if n["id"] == "fc1")["inputs"] = ["pool2"]
    ds, _ = session(broken)
    from engine.fixes import suggest_fixes

    (fix,) = [f for f in suggest_fixes(ds.graph, engine.check(ds.graph)) if f["node"] == "fc1"]
    ds.delete(["fc1"])  # the canvas deleted it in the same rerun
    assert not ds.apply_fix(fix)
    assert "no longer applies" in ds.notice()


def test_the_check_is_kept_until_the_graph_changes(mnist):
    ds, _ = session(mnist)
    first = ds.checked
    assert ds.checked is first and first.report.ok and first.graph.to_dict() == mnist  # parsed once, reused
    ds.adopt_canvas(canvas_msg(mnist, seq=1, selected="conv1"))  # a selection changes no graph
    assert ds.checked is first
    assert ds.set_params("conv1", {"out_channels": 8, "kernel_size": 5, "padding": "same"})
    assert ds.checked is not first and ds.checked.report.nodes["conv1"].shape == (8, 28, 28)
    assert ds.undo() and ds.checked.report.nodes["conv1"].shape == (32, 28, 28)


def test_a_design_the_parser_refuses_is_checked_but_not_parsed():
    from designer.design.checked import check_design

    c = check_design({"format": "convas-graph", "version": 1, "nodes": [{"id": "a", "op": "ReLU", "colour": 1}]})
    assert c.graph is None and not c.report.ok  # nothing for the autosave to write; the report says why
    assert any(e.node == "a" and "colour" in (e.field or "") for e in c.report.errors)
