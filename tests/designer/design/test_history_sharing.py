"""The undo history keeps the graphs themselves, not copies (designer/design/history.py): that is exact only while no
edit mutates a graph the session stored. Every kind of edit the Design page makes is run here, and every graph the
session ever held must still equal what it was when stored, and undo must walk back through them all."""
import copy

import engine
from designer.design.session import DesignSession
from engine.fixes import suggest_fixes
from tests.designer.design.test_session import add_conv_after_pool2, canvas_msg


def test_no_edit_mutates_a_stored_graph_and_undo_walks_back_through_them(template_path):
    g0 = engine.load_graph(template_path("mnist_cnn")).to_dict()
    state = {"graph": g0, "graph_rev": 0}
    stored = [(g0, copy.deepcopy(g0))]

    def store(g: dict, replace: bool) -> None:
        state["graph"] = g
        state["graph_rev"] += replace
        stored.append((g, copy.deepcopy(g)))

    ds = DesignSession(state, store)
    assert ds.adopt_canvas(canvas_msg(g0, change=add_conv_after_pool2))
    assert ds.set_params("conv3", {"out_channels": 4, "kernel_size": 40})  # too big: a problem with fixes
    fixes = suggest_fixes(engine.graph.parse(ds.graph)[0], engine.check(ds.graph))
    assert fixes and ds.apply_fix(fixes[0])
    assert ds.rename("conv3", "conv9")
    assert ds.set_output("conv9", True)
    assert ds.run_command({"kind": "layout", "nonce": 1})
    assert ds.add_block("residual", 0.0, 900.0, "pool2")
    assert ds.make_module(["conv1", "relu1"], "Stem")
    assert ds.delete(["conv9"])
    edits = len(stored) - 1
    for _ in range(edits):
        assert ds.undo()
    assert ds.graph == g0
    for _ in range(edits):
        assert ds.redo()
    assert ds.graph == stored[edits][0]
    assert all(g == snapshot for g, snapshot in stored)  # nothing the session stored was changed afterwards
