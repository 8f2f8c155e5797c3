"""Re-flow (engine/reflow.py): an expanded module instance's card is taller, and the cards it would cover make
room; collapsed, they come back. The oracle for "no overlap" is every pair of card rectangles, each as tall as
the canvas draws it (`card_height`: engine.layout's SIZES, which the canvas draws the expanded list with)."""
from __future__ import annotations

import copy
import itertools

import pytest

from engine.layout import SIZES
from engine.module_edit import set_definition, set_expanded
from engine.reflow import auto_layout, card_height, card_rects, inner_height
from engine.templates import load_template
from tests.engine.test_modules import small_design

MODULE_TEMPLATES = ["resnet18", "googlenet", "squeezenet1_0", "densenet121", "nin", "unet"]
W, H = SIZES.node_w, SIZES.node_h


def overlaps(g: dict) -> list[tuple[str, str]]:
    """Every pair of cards whose rectangles overlap (touching edges do not), by brute force."""
    rects = card_rects(g)
    return [(a, b) for (a, (x1, y1, w1, h1)), (b, (x2, y2, w2, h2)) in itertools.combinations(rects.items(), 2)
            if x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1]


def positions(g: dict) -> dict[str, tuple[float, float]]:
    return {n["id"]: (n["ui"]["x"], n["ui"]["y"]) for n in g["nodes"]}


def instances(g: dict) -> list[str]:
    return [n["id"] for n in g["nodes"] if n["op"] in g.get("modules", {})]


def at(g: dict, where: dict[str, tuple[float, float]]) -> dict:
    g = copy.deepcopy(g)
    for n in g["nodes"]:
        n["ui"] = {**n.get("ui", {}), "x": where[n["id"]][0], "y": where[n["id"]][1]}
    return g


@pytest.mark.parametrize("name", MODULE_TEMPLATES)
def test_every_instance_expanded_at_once_covers_no_card_and_collapsing_puts_every_card_back(name):
    g = load_template(name).to_dict()
    ids = instances(g)
    assert ids and not overlaps(g)
    for order in (ids, ids[::-1]):  # expanded top down or bottom up: the same room is made
        expanded = g
        for iid in order:
            before = positions(expanded)
            expanded = set_expanded(expanded, iid, True)
            assert not overlaps(expanded), f"{name}: {iid} expanded covers {overlaps(expanded)[:3]}"
            y0 = before[iid][1]
            assert all(positions(expanded)[k] == p for k, p in before.items() if p[1] <= y0), "a card above moved"
        assert all(n["ui"]["expanded"] for n in expanded["nodes"] if n["id"] in ids)
        for back in (order, order[::-1]):  # collapsed in either order: every card where it was
            collapsed = expanded
            for iid in back:
                collapsed = set_expanded(collapsed, iid, False)
                assert not overlaps(collapsed)
            assert positions(collapsed) == positions(g) and collapsed == g


def test_resnet18_layer1_cards_make_room_for_each_other():
    """The issue's case: layer1_0 and layer1_1 one above the other, both expanded, each list fully visible."""
    g = load_template("resnet18").to_dict()
    y = {k: p[1] for k, p in positions(g).items()}
    assert positions(g)["layer1_0"][0] == positions(g)["layer1_1"][0] and y["layer1_1"] > y["layer1_0"]
    e = set_expanded(set_expanded(g, "layer1_0", True), "layer1_1", True)
    r = card_rects(e)
    assert r["layer1_0"][1] + r["layer1_0"][3] <= r["layer1_1"][1]  # layer1_1 starts below layer1_0's last layer
    assert r["layer1_1"][1] + r["layer1_1"][3] <= r["layer2_0"][1]
    extra = {i: card_height(e, next(n for n in e["nodes"] if n["id"] == i)) - H for i in ("layer1_0", "layer1_1")}
    assert r["layer1_1"][1] == y["layer1_1"] + extra["layer1_0"]  # moved by exactly the list's height
    assert r["fc"][1] == y["fc"] + extra["layer1_0"] + extra["layer1_1"]


def design_with_columns() -> dict:
    """u1 with the chain below it in one column; a card beside it and one lower in the next column."""
    g = small_design()
    g["nodes"].append({"id": "side", "op": "ReLU", "inputs": ["stem"]})
    g["nodes"].append({"id": "side2", "op": "ReLU", "inputs": ["side"]})
    return at(g, {"input": (0, 0), "stem": (0, 120), "u1": (0, 240), "u2": (0, 360), "u3": (0, 480),
                  "pool": (0, 600), "flat": (0, 720), "fc": (0, 840), "side": (236, 240), "side2": (236, 400)})


def test_expanding_moves_the_cards_below_it_by_the_lists_height_and_nothing_beside_it():
    g = design_with_columns()
    e = set_expanded(g, "u1", True)
    extra = inner_height(3)
    assert extra == SIZES.inner_head_h + 3 * SIZES.inner_row_h
    assert card_height(e, e["nodes"][2]) == H + extra
    want = dict(positions(g))
    for k in ("u2", "u3", "pool", "flat", "fc"):
        want[k] = (want[k][0], want[k][1] + extra)
    assert positions(e) == want  # input, stem, side (beside it) and side2 (lower, in the next column) stay
    assert set_expanded(e, "u1", True) == e  # expanded twice: no second room made
    assert set_expanded(g, "u1", False) == g  # collapsing a collapsed instance changes nothing
    assert set_expanded(e, "u1", False) == g


def test_a_card_sharing_width_with_a_moved_card_moves_too():
    """A card half under a moved card (not under the instance) is carried along, so they never meet."""
    g = at(design_with_columns(), {**positions(design_with_columns()), "u2": (150, 360), "side2": (300, 440)})
    assert not overlaps(g)
    e = set_expanded(g, "u1", True)
    assert positions(e)["u2"] == (150, 360 + inner_height(3))  # shares width with u1
    assert positions(e)["side2"] == (300, 440 + inner_height(3)) and not overlaps(e)  # ... and with u2, not u1
    assert positions(e)["side"] == (236, 240)  # shares width with u2, but is above it
    assert set_expanded(e, "u1", False) == g


def test_collapse_after_the_user_dragged_closes_up_without_covering_what_was_moved_there():
    g = small_design()
    g = at(g, {"input": (0, 0), "stem": (0, 120), "u1": (0, 240), "u2": (0, 360), "u3": (0, 480),
               "pool": (0, 600), "flat": (0, 720), "fc": (0, 840)})
    g["nodes"].append({"id": "d", "op": "ReLU", "inputs": ["stem"], "ui": {"x": 550.0, "y": 0.0}})
    e = set_expanded(g, "u1", True)
    extra = inner_height(3)
    assert positions(e)["u2"] == (0, 360 + extra) and positions(e)["u3"] == (0, 480 + extra)
    dragged = at(e, {**positions(e), "u3": (150, 620), "d": (300, 420)})  # the user moves two cards
    assert not overlaps(dragged)
    c = set_expanded(dragged, "u1", False)
    assert not overlaps(c)
    p, gap = positions(c), SIZES.layer_dy - H
    assert p["u2"] == (0, 360)  # back up under u1
    assert p["d"] == (300, 420)  # below nothing that moved: stays
    assert p["u3"] == (150, 420 + H + gap)  # up, but stopped a layer's gap below d (which it shares width with)
    assert p["pool"] == (0, 540 + H + 24)  # up, keeping the 24 px it had below u3
    assert p["flat"] == (0, 640 + H + gap) and p["fc"] == (0, 760 + H + gap)


def test_a_definition_that_gains_a_layer_makes_one_more_rows_room_below_its_expanded_instances():
    g = design_with_columns()
    e = set_expanded(g, "u1", True)
    d = copy.deepcopy(e["modules"]["Unit"])
    d["nodes"].append({"id": "drop", "op": "Dropout", "inputs": ["act"]})
    d["outputs"] = ["drop"]
    more = set_definition(e, "Unit", d)
    assert positions(more)["u2"][1] == positions(e)["u2"][1] + SIZES.inner_row_h and not overlaps(more)
    assert positions(more)["side2"] == positions(e)["side2"]


@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_auto_layout_makes_room_for_the_expanded_instances(name):
    g = load_template(name).to_dict()
    for iid in instances(g)[::2]:
        g = set_expanded(g, iid, True)
    scrambled = at(g, {n["id"]: (0, 0) for n in g["nodes"]})
    laid = auto_layout(scrambled)
    assert not overlaps(laid) and [n.get("ui", {}).get("expanded") for n in laid["nodes"]] == \
        [n.get("ui", {}).get("expanded") for n in g["nodes"]]


def test_a_thousand_card_graph_with_a_hundred_instances_expanded_covers_nothing():
    """Ten columns of 100 cards; the instances in them are expanded one after another (each re-flow is one sweep)."""
    g = small_design()
    unit = g["modules"]["Unit"]
    nodes = [{"id": "input", "op": "Input", "params": {"shape": [3, 12, 12]}, "ui": {"x": 0.0, "y": -120.0}}]
    for c in range(10):
        prev = "input"
        for r in range(100):
            nid = f"c{c}_{r}"
            op = "Unit" if r % 10 == 3 else "ReLU"
            nodes.append({"id": nid, "op": op, "inputs": [prev], "ui": {"x": c * SIZES.col_dx + (r % 3) * 20.0,
                                                                         "y": r * SIZES.layer_dy}})
            prev = nid
    g = {"format": "convas-graph", "version": 2, "name": "big", "nodes": nodes, "outputs": [prev],
         "modules": {"Unit": unit}}
    for iid in instances(g):
        g = set_expanded(g, iid, True)
    assert len(instances(g)) == 100 and not overlaps(g)
