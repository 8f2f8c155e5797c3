"""The Design page in a real browser: template shapes, palette drag, wiring, a kernel too large, its fix, undo,
delete, blocks, auto-layout, ResNet-18 — and after every step the canvas shows exactly the graph Python holds."""
from __future__ import annotations

import json
import re
import time

from playwright.sync_api import expect

import engine
from tests.browser.conftest import ROOT, open_template, screenshot, wait_for_app_idle

SHAPE = re.compile(r"^\d+(×\d+)*$")


# ---- helpers (also used by test_design_latency.py) ----
def node(page, nid: str):
    return page.locator(f'[data-testid="cv-node-{nid}"]')


def shape(page, nid: str):
    return page.locator(f'[data-testid="cv-shape-{nid}"]')


def synced(page) -> None:
    """Python has answered every canvas edit and the script run is over."""
    wait_for_app_idle(page)
    expect(page.locator("[data-testid=cv-status]")).to_have_attribute("data-synced", "1", timeout=30_000)
    wait_for_app_idle(page)


def open_design(page, app_server, graph: dict | None = None) -> None:
    """A new session on the Design page, starting from `graph` (or the seed template when None)."""
    autosave = app_server.home / "autosave.json"
    if graph is None:
        autosave.unlink(missing_ok=True)
    else:
        engine.save_graph(engine.load_graph(graph), autosave)
    page.goto(app_server.url)
    expect(page.locator("[data-testid=cv-root]")).to_be_visible(timeout=60_000)
    page.locator("[data-testid=cv-root]").scroll_into_view_if_needed()
    synced(page)


def centre(loc) -> tuple[float, float]:
    """The element's centre once it has stopped moving: the canvas animates the view (≈250 ms) when Python selects
    a new card, and a mouse press taken mid-animation lands beside the card."""
    b = loc.bounding_box()
    deadline = time.monotonic() + 10
    while True:
        assert b is not None, loc
        loc.page.wait_for_timeout(120)  # one look per ~7 frames; the view animation lasts ≤ 250 ms
        again = loc.bounding_box()
        if again == b or time.monotonic() > deadline:
            break
        b = again
    return b["x"] + b["width"] / 2, b["y"] + b["height"] / 2


def click_card(page, nid: str) -> None:
    """Click a card as a user does: one the canvas's view does not show (the first view shows a tall network's top
    part at a readable zoom) is brought into view first with the toolbar's zoom to fit. A click on a clipped card
    would scroll the canvas's clipped pane and select nothing."""
    card = node(page, nid)
    flow, box = page.locator("[data-testid=cv-flow]").bounding_box(), card.bounding_box()
    inside = box is not None and flow["x"] <= box["x"] and box["x"] + box["width"] <= flow["x"] + flow["width"] \
        and flow["y"] <= box["y"] and box["y"] + box["height"] <= flow["y"] + flow["height"]
    if not inside:
        page.locator("[data-testid=cv-fit]").click()
    centre(card)  # until the view has stopped moving
    card.click()


def connect(page, src: str, dst: str, port: str = "in0") -> None:
    """Drag from src's output port to dst's input port, as a user does."""
    sx, sy = centre(page.locator(f'[data-testid="cv-port-{src}-out"]'))
    dx, dy = centre(page.locator(f'[data-testid="cv-port-{dst}-{port}"]'))
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move((sx + dx) / 2, (sy + dy) / 2, steps=6)
    page.mouse.move(dx, dy, steps=6)
    page.mouse.up()


def rev(page) -> str:
    return page.locator("[data-testid=cv-status]").get_attribute("data-rev")


def after_python_edit(page, old_rev: str) -> None:
    """Wait for a change Python makes (command, fix, form) to reach the canvas as a new revision."""
    expect(page.locator("[data-testid=cv-status]")).not_to_have_attribute("data-rev", old_rev, timeout=30_000)
    synced(page)


def python_graph(app_server) -> dict:
    return json.loads((app_server.home / "autosave.json").read_text(encoding="utf-8"))


def _screen_vs_python(page, app_server) -> tuple[tuple, tuple]:
    g = python_graph(app_server)
    nodes = set(page.locator("[data-testid^=cv-node-]").evaluate_all("els => els.map(e => e.dataset.testid.slice(8))"))
    wires = {w for w in page.locator(".react-flow__edge").evaluate_all(
        "els => els.map(e => e.getAttribute('data-testid'))") if ":ref:" not in w}
    expected = {f"rf__edge-e:{s}>{n['id']}:in{i}" for n in g["nodes"] for i, s in enumerate(n.get("inputs", []))}
    return (nodes, wires), ({n["id"] for n in g["nodes"]}, expected)


def assert_in_step(page, app_server, timeout: float = 15.0) -> None:
    """Nodes and wires on screen == the graph Python holds, as autosaved (written at the end of its run, so this
    polls briefly rather than racing the write)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            screen, held = _screen_vs_python(page, app_server)
        except FileNotFoundError:  # the first autosave of a fresh design is written at the end of its run
            screen, held = None, ()
        if screen == held or time.monotonic() > deadline:
            break
        page.wait_for_timeout(100)  # polling the autosave file, not waiting on the UI
    assert screen == held


# ---- scenarios ----
def test_app_opens_on_a_template_with_shapes_on_every_node(page, app_server):
    open_design(page, app_server)
    g = engine.load_graph(ROOT / "assets" / "templates" / "mnist_cnn.json")
    r = engine.check(g)
    for n in g.nodes:
        expect(shape(page, n.id)).to_have_text(SHAPE)
        expect(shape(page, n.id)).to_have_text("×".join(map(str, r.nodes[n.id].shape)))
    expect(page.locator("[data-testid=cv-status]")).to_have_text("All shapes check out")
    expect(page.get_by_text(re.compile(r"^Total: 3,274,634 parameters"))).to_be_visible()
    screenshot(page, "design_template")


def test_drag_connect_break_fix_undo_delete(page, app_server):
    open_design(page, app_server)
    flow = page.locator("[data-testid=cv-flow]").bounding_box()
    # drag a Conv2d from the palette onto empty canvas, right of the network
    page.locator("[data-testid=cv-palette-Conv2d]").drag_to(
        page.locator("[data-testid=cv-flow] .react-flow__pane"),
        target_position={"x": flow["width"] * 0.75, "y": flow["height"] * 0.5})
    expect(node(page, "conv3")).to_be_visible()  # op-based id: conv1, conv2 exist
    synced(page)
    expect(node(page, "conv3")).to_have_attribute("data-state", "error")  # not connected yet
    assert_in_step(page, app_server)

    connect(page, "pool2", "conv3")
    synced(page)
    expect(shape(page, "conv3")).to_have_text("16×5×5")  # 64×7×7 through a 3×3 conv, no padding
    expect(page.locator('[data-testid="rf__edge-e:pool2>conv3:in0"]')).to_contain_text("64×7×7")
    assert_in_step(page, app_server)
    screenshot(page, "design_connected")

    # a kernel larger than its input: the node turns red with the engine's message
    node(page, "conv3").click()
    synced(page)
    kernel = page.get_by_role("textbox", name="kernel_size", exact=True)
    old = rev(page)
    kernel.fill("9")
    kernel.press("Enter")
    after_python_edit(page, old)
    expect(node(page, "conv3")).to_have_attribute("data-state", "error")
    expect(page.locator("[data-testid=cv-error-conv3]")).to_contain_text(
        "kernel 9 is larger than the padded input height 7")
    expect(page.locator("[data-testid=cv-status]")).to_have_text("1 problem")
    screenshot(page, "design_kernel_too_large")

    # the one-click fix: padding 'same'
    old = rev(page)
    page.get_by_role("button", name="Set padding of conv3 to 'same'").click()
    after_python_edit(page, old)
    expect(node(page, "conv3")).to_have_attribute("data-state", "ok")
    expect(shape(page, "conv3")).to_have_text("16×7×7")
    screenshot(page, "design_fixed")

    # undo with the keyboard, then the toolbar button: back to the error, then to kernel 3
    page.locator("[data-testid=cv-flow] .react-flow__pane").click(position={"x": 30, "y": 200})
    old = rev(page)
    page.keyboard.press("Control+z")
    after_python_edit(page, old)
    expect(node(page, "conv3")).to_have_attribute("data-state", "error")
    old = rev(page)
    page.locator("[data-testid=cv-undo]").click()
    after_python_edit(page, old)
    expect(shape(page, "conv3")).to_have_text("16×5×5")
    old = rev(page)
    page.locator("[data-testid=cv-redo]").click()
    after_python_edit(page, old)
    expect(node(page, "conv3")).to_have_attribute("data-state", "error")
    assert_in_step(page, app_server)

    # delete by key, then by the toolbar button; undo brings it back with its wire
    node(page, "conv3").click()
    synced(page)
    page.keyboard.press("Delete")
    synced(page)
    expect(node(page, "conv3")).to_have_count(0)
    assert_in_step(page, app_server)
    old = rev(page)
    page.keyboard.press("Control+z")
    after_python_edit(page, old)
    expect(node(page, "conv3")).to_be_visible()
    assert_in_step(page, app_server)
    node(page, "conv3").click()
    synced(page)
    page.locator("[data-testid=cv-delete]").click()
    synced(page)
    expect(node(page, "conv3")).to_have_count(0)
    assert_in_step(page, app_server)

    # a reload loses nothing (autosave)
    page.reload()
    expect(page.locator("[data-testid=cv-root]")).to_be_visible(timeout=60_000)
    synced(page)
    expect(node(page, "conv3")).to_have_count(0)
    expect(shape(page, "fc2")).to_have_text("10")
    assert_in_step(page, app_server)


def test_blocks_drop_in_wired_and_auto_layout_arranges(page, app_server):
    open_design(page, app_server)
    node(page, "relu2").click()  # clicking a palette item appends it below the selected node, wired to it
    synced(page)
    page.locator("[data-testid=cv-search]").fill("residual")
    old = rev(page)
    page.locator("[data-testid=cv-palette-residual]").click()
    after_python_edit(page, old)
    expect(node(page, "res1_add")).to_be_visible()
    expect(shape(page, "res1_relu")).to_have_text("64×14×14")
    for nid in ("res1_conv1_conv", "res1_conv1_bn", "res1_conv2_conv", "res1_conv2_bn"):
        expect(node(page, nid)).to_have_attribute("data-state", "ok")
    assert_in_step(page, app_server)

    # moving a card is an edit too: its new position reaches Python
    x0 = next(n for n in python_graph(app_server)["nodes"] if n["id"] == "res1_relu")["ui"]["x"]
    cx, cy = centre(node(page, "res1_relu").locator(".cv-head"))  # the new block is centred in view
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 60, cy, steps=8)
    page.mouse.up()
    synced(page)
    deadline = time.monotonic() + 15
    while next(n for n in python_graph(app_server)["nodes"] if n["id"] == "res1_relu")["ui"]["x"] == x0:
        assert time.monotonic() < deadline, "the moved card's position never reached Python"
        page.wait_for_timeout(100)  # polling the autosave file
    x1 = next(n for n in python_graph(app_server)["nodes"] if n["id"] == "res1_relu")["ui"]["x"]
    assert x1 > x0 + 40  # 60 screen px at zoom ≤ 1 is at least 60 canvas px

    before = {n["id"]: n["ui"] for n in python_graph(app_server)["nodes"]}
    old = rev(page)
    page.locator("[data-testid=cv-layout]").click()
    after_python_edit(page, old)
    assert_in_step(page, app_server)
    after = {n["id"]: n["ui"] for n in python_graph(app_server)["nodes"]}
    assert after != before and after["res1_add"]["y"] > after["res1_conv2_bn"]["y"]
    page.locator("[data-testid=cv-fit]").click()
    assert_in_step(page, app_server)
    screenshot(page, "design_block_layout")


def test_search_filters_the_palette(page, app_server):
    open_design(page, app_server)
    page.locator("[data-testid=cv-search]").fill("pool")
    expect(page.locator("[data-testid=cv-palette-MaxPool2d]")).to_be_visible()
    expect(page.locator("[data-testid=cv-palette-Conv2d]")).to_have_count(0)
    page.locator("[data-testid=cv-search]").fill("zzz-no-such-layer")
    expect(page.locator(".cv-empty")).to_contain_text("No layer matches")


def test_resnet18_template_shows_its_parameter_count(page, app_server):
    open_design(page, app_server)
    old = rev(page)
    open_template(page, "ResNet-18")
    after_python_edit(page, old)
    expect(page.get_by_text(re.compile(r"^Total: 11,689,512 parameters"))).to_be_visible()
    expect(page.locator("[data-testid=stMetricValue]").first).to_have_text("11.7M")
    g = engine.load_graph(ROOT / "assets" / "templates" / "resnet18.json")
    r = engine.check(g)
    for n in g.nodes:
        expect(shape(page, n.id)).to_have_text("×".join(map(str, r.nodes[n.id].shape)))
    expect(shape(page, "fc")).to_have_text("1000")
    assert_in_step(page, app_server)
    # the longest module name (BasicBlockDownsample) stays inside its card, and so does its expand toggle
    card, toggle = node(page, "layer2_0"), page.locator("[data-testid=cv-expand-layer2_0]")
    card.scroll_into_view_if_needed()
    expect(toggle).to_be_visible()
    c, t = card.bounding_box(), toggle.bounding_box()
    assert c["x"] <= t["x"] and t["x"] + t["width"] <= c["x"] + c["width"] + 0.5, (c, t)
    page.keyboard.press("Escape")  # close the sidebar's popover
    screenshot(page, "design_resnet18")


def test_edits_still_reach_python_after_leaving_the_page_and_coming_back(page, app_server):
    open_design(page, app_server)
    click_card(page, "fc2")
    synced(page)
    page.keyboard.press("Delete")  # an edit from the first canvas (mount)
    synced(page)
    assert_in_step(page, app_server)
    page.get_by_role("link", name="Train").first.click()
    wait_for_app_idle(page)
    page.get_by_role("link", name="Design").first.click()
    expect(page.locator("[data-testid=cv-root]")).to_be_visible(timeout=60_000)
    synced(page)
    expect(node(page, "fc2")).to_have_count(0)  # the remounted canvas starts from Python's graph
    page.locator("[data-testid=cv-search]").fill("Linear")
    click_card(page, "drop")
    synced(page)
    page.locator("[data-testid=cv-palette-Linear]").click()  # a new mount's first edit is adopted too
    synced(page)
    expect(shape(page, "fc2")).to_have_text("10")  # fc2 is free again: the first free op-based id
    assert_in_step(page, app_server)
