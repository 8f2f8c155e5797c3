"""Ordered ports in a real browser: Concat's inputs keep the order of the ports they were wired to, MaxUnpool2d's
pool reference is a port of its own, and clicking a problem selects its node on the canvas."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import screenshot, wait_for_app_idle
from tests.browser.test_design_canvas import (
    assert_in_step,
    connect,
    node,
    open_design,
    python_graph,
    shape,
    synced,
)

GRAPH = {"format": "convas-graph", "version": 1, "name": "Ports", "outputs": ["ca"], "nodes": [
    {"id": "x", "op": "Input", "params": {"shape": [16, 8, 8]}, "ui": {"x": 0, "y": 0}},
    {"id": "ca", "op": "Conv2d", "params": {"out_channels": 8, "padding": 1}, "inputs": ["x"], "ui": {"x": -250, "y": 130}},
    {"id": "cb", "op": "Conv2d", "params": {"out_channels": 4, "padding": 1}, "inputs": ["x"], "ui": {"x": 0, "y": 130}},
    {"id": "pool", "op": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["x"], "ui": {"x": 250, "y": 130}},
]}


def drop(page, op: str, fx: float, fy: float) -> None:
    """Drag `op` from the palette to a point of the canvas given as fractions of its width and height."""
    flow = page.locator("[data-testid=cv-flow]").bounding_box()
    page.locator("[data-testid=cv-search]").fill(op)
    page.locator(f"[data-testid=cv-palette-{op}]").drag_to(
        page.locator("[data-testid=cv-flow] .react-flow__pane"),
        target_position={"x": flow["width"] * fx, "y": flow["height"] * fy})
    page.locator("[data-testid=cv-search]").fill("")
    synced(page)


def inputs_of(app_server, nid: str) -> list[str]:
    return next(n for n in python_graph(app_server)["nodes"] if n["id"] == nid).get("inputs", [])


def test_concat_ports_are_ordered(page, app_server):
    open_design(page, app_server, GRAPH)
    page.locator("[data-testid=cv-fit]").click()
    drop(page, "Concat", 0.35, 0.8)
    cat = node(page, "cat1")
    expect(cat.locator(".cv-port-label")).to_have_text(["1", "2"])  # two inputs needed, nothing wired yet
    connect(page, "cb", "cat1", "in0")
    synced(page)
    expect(cat.locator(".cv-port-label")).to_have_text(["1", "2"])
    connect(page, "ca", "cat1", "in1")
    synced(page)
    expect(cat.locator(".cv-port-label")).to_have_text(["1", "2", "3"])  # a spare port for one more input
    assert inputs_of(app_server, "cat1") == ["cb", "ca"]
    expect(shape(page, "cat1")).to_have_text("12×8×8")
    expect(page.locator('[data-testid="rf__edge-e:ca>cat1:in1"]')).to_contain_text("8×8×8")
    connect(page, "ca", "cat1", "in0")  # wiring onto a used port replaces that input, order kept
    synced(page)
    assert inputs_of(app_server, "cat1") == ["ca", "ca"]
    expect(shape(page, "cat1")).to_have_text("16×8×8")
    assert_in_step(page, app_server)
    screenshot(page, "design_concat_ports")


def test_unpool_has_a_pool_port_and_a_problem_selects_its_node(page, app_server):
    open_design(page, app_server, GRAPH)
    page.locator("[data-testid=cv-fit]").click()
    drop(page, "MaxUnpool2d", 0.75, 0.8)
    up = node(page, "unpool1")
    expect(up.locator(".cv-port-label")).to_have_text(["pool"])
    connect(page, "pool", "unpool1", "in0")
    synced(page)
    expect(up).to_have_attribute("data-state", "error")  # no pool named yet
    connect(page, "pool", "unpool1", "ref:pool")
    synced(page)
    expect(shape(page, "unpool1")).to_have_text("16×8×8")  # the pool's input size
    expect(page.locator('[data-testid="rf__edge-e:pool>unpool1:ref:pool"]')).to_be_visible()
    g = python_graph(app_server)
    assert next(n for n in g["nodes"] if n["id"] == "unpool1")["params"] == {"pool": "pool"}

    # wire ca (8 channels) into the unpool: the engine explains, and "Select" on the problem selects the node
    connect(page, "ca", "unpool1", "in0")
    synced(page)
    expect(up).to_have_attribute("data-state", "error")
    page.locator("[data-testid=cv-flow] .react-flow__pane").click(position={"x": 20, "y": 300})
    synced(page)
    expect(up).not_to_contain_class("cv-selected")
    page.get_by_role("button", name="Select unpool1").click()
    wait_for_app_idle(page)
    expect(up).to_contain_class("cv-selected")
    expect(page.get_by_role("textbox", name="id", exact=True)).to_have_value("unpool1")
    assert_in_step(page, app_server)
    screenshot(page, "design_unpool_error_selected")
