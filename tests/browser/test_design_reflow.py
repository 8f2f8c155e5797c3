"""Expanded module instances make room on the canvas (engine/reflow.py), measured in a real browser: ResNet-18's
layer1_0 and layer1_1 sit one above the other; expanded, each lists its layers in its card and the cards below
move down, so no two cards overlap (every card's bounding box against every other's); collapsed, every card is
back where it was; undo and redo of each step bring back exactly the positions of that step. A layer appended
to an expanded instance from the palette lands below its layers."""
from __future__ import annotations

import itertools
import re

from playwright.sync_api import expect

from engine.layout import SIZES
from engine.reflow import card_height
from engine.templates import load_template
from tests.browser.conftest import screenshot
from tests.browser.test_design_canvas import after_python_edit, node, open_design, python_graph, rev, synced
from tests.browser.test_design_modules import design, expand

BOXES = """els => els.map(e => { const r = e.getBoundingClientRect();
  return [e.dataset.testid.slice(8), r.x, r.y, r.width, r.height]; })"""


def boxes(page) -> dict[str, tuple[float, float, float, float]]:
    """Every card's box on screen, relative to the input's (which never moves), so a pan cannot fake a move."""
    raw = {b[0]: tuple(b[1:]) for b in page.locator("[data-testid^=cv-node-]").evaluate_all(BOXES)}
    ox, oy = raw["input"][:2]
    return {k: (x - ox, y - oy, w, h) for k, (x, y, w, h) in raw.items()}


def overlapping(b: dict) -> list[tuple[str, str]]:
    return [(p, q) for (p, (x1, y1, w1, h1)), (q, (x2, y2, w2, h2)) in itertools.combinations(b.items(), 2)
            if x1 + 0.5 < x2 + w2 and x2 + 0.5 < x1 + w1 and y1 + 0.5 < y2 + h2 and y2 + 0.5 < y1 + h1]


def same_places(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(abs(a[k][0] - b[k][0]) < 0.5 and abs(a[k][1] - b[k][1]) < 0.5 for k in a)


def pan_to(page, nid: str) -> None:
    """Drag the canvas's empty pane up until card `nid` is near its top (for the screenshot), as a user pans."""
    flow = page.locator("[data-testid=cv-flow]").bounding_box()
    top = node(page, nid).bounding_box()["y"]
    x, y = flow["x"] + flow["width"] * 0.25, min(flow["y"] + flow["height"], page.viewport_size["height"]) - 120
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y - (top - flow["y"] - 60), steps=8)
    page.mouse.up()
    expect(node(page, nid)).to_be_in_viewport(ratio=1)
    assert node(page, nid).bounding_box()["y"] < top - 100, "the pane did not pan"


def click(page, button: str) -> None:
    old = rev(page)
    page.locator(f"[data-testid=cv-{button}]").click()
    after_python_edit(page, old)


def test_expanded_resnet18_blocks_push_the_cards_below_and_come_back(page, app_server):
    g = load_template("resnet18").to_dict()
    open_design(page, app_server, g)
    start = boxes(page)
    assert start["layer1_1"][1] > start["layer1_0"][1] and abs(start["layer1_1"][0] - start["layer1_0"][0]) < 0.5
    assert not overlapping(start)

    expand(page, "layer1_0")
    expect(page.locator("[data-testid=cv-inner-layer1_0]")).to_be_visible()
    one = boxes(page)
    assert one["layer1_0"][3] > start["layer1_0"][3] + 100  # the card itself is taller: its layers are in it
    assert not overlapping(one), overlapping(one)
    assert one["layer1_1"][1] > start["layer1_1"][1] and same_places({"conv1": one["conv1"]}, {"conv1": start["conv1"]})

    expand(page, "layer1_1", app_server)  # Python's graph is read below: wait for its autosave
    expect(page.locator("[data-testid=cv-inner-layer1_1]")).to_be_visible()
    two = boxes(page)
    assert not overlapping(two), overlapping(two)
    a, b = two["layer1_0"], two["layer1_1"]
    assert a[1] + a[3] <= b[1] and b[1] + b[3] <= two["layer2_0"][1]  # each list ends above the next card
    graph = python_graph(app_server)
    zoom = a[2] / SIZES.node_w  # cards are node_w wide in flow units
    for n in graph["nodes"]:  # no card is drawn taller than the height Python made room for
        assert two[n["id"]][3] / zoom <= card_height(graph, n) + 0.5, (n["id"], two[n["id"]][3] / zoom)
    inner = page.locator("[data-testid=cv-inner-layer1_0]").bounding_box()
    card = node(page, "layer1_0").bounding_box()
    assert inner["y"] + inner["height"] <= card["y"] + card["height"] + 0.5  # the list is inside its card
    pan_to(page, "layer1_0")
    screenshot(page, "design_reflow_expanded")

    expand(page, "layer1_0")  # collapse the upper one: the cards below come back up by its list
    expect(page.locator("[data-testid=cv-inner-layer1_0]")).to_have_count(0)
    up = boxes(page)
    assert not overlapping(up) and abs(up["layer1_1"][1] - start["layer1_1"][1]) < 0.5
    expand(page, "layer1_1", app_server)
    assert same_places(boxes(page), start)
    graph = python_graph(app_server)
    assert {n["id"]: (n["ui"]["x"], n["ui"]["y"]) for n in graph["nodes"]} == \
        {n["id"]: (n["ui"]["x"], n["ui"]["y"]) for n in g["nodes"]}

    for want in (up, two, one, start):  # undo: each step's positions, exactly
        click(page, "undo")
        assert same_places(boxes(page), want)
    for want in (one, two):
        click(page, "redo")
        got = boxes(page)
        assert same_places(got, want) and not overlapping(got)


def test_a_layer_appended_to_an_expanded_instance_goes_below_its_layers(page, app_server):
    g = design()
    g["nodes"] = g["nodes"][:3]  # input -> stem -> u1, the last card
    g["outputs"] = ["u1"]
    open_design(page, app_server, g)
    expand(page, "u1")
    node(page, "u1").locator(".cv-op").click()  # its header (its middle is now its layers' list)
    expect(page.get_by_role("heading", name=re.compile(r"· u1$"))).to_be_visible()
    synced(page)
    before = boxes(page)
    page.locator("[data-testid=cv-palette-ReLU]").click()  # a palette click appends below the selected card
    synced(page)
    after = boxes(page)
    (new,) = after.keys() - before.keys()
    assert not overlapping(after), overlapping(after)
    u1 = after["u1"]
    assert after[new][1] >= u1[1] + u1[3] and abs(after[new][0] - u1[0]) < 0.5  # right under its list
