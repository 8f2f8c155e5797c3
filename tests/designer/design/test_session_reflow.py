"""Expand/collapse on the Design page (designer/design/session.py) with the re-flow of engine/reflow.py: one
undoable step each, undo and redo put every card exactly where it was, and the canvas is sent the heights it
draws the expanded list with (the same sizes the re-flow made room for)."""
from __future__ import annotations

import engine
from designer.design.convert import canvas_data
from engine.layout import SIZES
from engine.reflow import card_height, inner_height
from engine.templates import load_template
from tests.designer.design.test_session import session
from tests.engine.test_reflow import overlaps, positions


def expand(ds, nid: str, on: bool, nonce: int) -> bool:
    return ds.run_command({"kind": "expand", "id": nid, "expanded": on, "nonce": nonce})


def test_expand_and_collapse_move_the_cards_below_in_one_step_and_undo_redo_restore_them_exactly():
    g = load_template("resnet18").to_dict()
    ds, _ = session(g)
    p0 = positions(g)
    assert expand(ds, "layer1_0", True, 1)
    p1 = positions(ds.graph)
    assert expand(ds, "layer1_1", True, 2)
    p2 = positions(ds.graph)
    assert p1["layer1_1"][1] > p0["layer1_1"][1] and p2["fc"][1] > p1["fc"][1] and not overlaps(ds.graph)
    assert p2["conv1"] == p0["conv1"] and p2["layer1_0"] == p0["layer1_0"]  # above: unmoved
    assert not expand(ds, "layer1_1", True, 3)  # already expanded: nothing to do, no step recorded
    assert expand(ds, "layer1_0", False, 4)
    assert not overlaps(ds.graph) and positions(ds.graph)["layer1_1"] == p0["layer1_1"]
    assert ds.undo() and positions(ds.graph) == p2  # the collapse, undone in one step
    assert ds.undo() and positions(ds.graph) == p1
    assert ds.undo() and positions(ds.graph) == p0 and ds.graph == g
    assert ds.redo() and positions(ds.graph) == p1
    assert ds.redo() and positions(ds.graph) == p2 and not overlaps(ds.graph)


def test_the_canvas_draws_the_list_as_tall_as_the_room_made_for_it():
    g = load_template("resnet18").to_dict()
    ds, _ = session(g)
    assert expand(ds, "layer1_0", True, 1)
    data = canvas_data(ds.graph, engine.check(ds.graph), rev=ds.rev, ack=None, selected=None, select_nonce=0,
                       can_undo=True, can_redo=False)
    view = next(n for n in data["nodes"] if n["id"] == "layer1_0")
    node = next(n for n in ds.graph["nodes"] if n["id"] == "layer1_0")
    assert view["inner_h"] == inner_height(len(view["inner"])) == card_height(ds.graph, node) - SIZES.node_h
    assert view["row_h"] == data["layout"]["inner_row_h"] == SIZES.inner_row_h
    assert "inner_h" not in next(n for n in data["nodes"] if n["id"] == "layer1_1")  # collapsed


def test_auto_layout_keeps_the_expanded_cards_clear():
    g = load_template("googlenet").to_dict()
    ds, _ = session(g)
    for i, nid in enumerate(n["id"] for n in g["nodes"] if n["op"] in g["modules"]):
        assert expand(ds, nid, True, i + 1)
    ds.run_command({"kind": "layout", "nonce": 99})
    assert not overlaps(ds.graph)
