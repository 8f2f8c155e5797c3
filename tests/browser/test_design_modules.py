"""Modules on the Design page in a real browser: make a module from a selection of cards, expand and collapse an
instance, edit a definition and see every instance update, detach one, undo and redo across all of these, and break
a shape inside a module to see the collapsed card turn red naming the inner layer. engine.check on the graph Python
autosaved is the oracle for what the cards show."""
from __future__ import annotations

import re

from playwright.sync_api import expect

import engine
from tests.browser.conftest import screenshot
from tests.browser.test_design_canvas import after_python_edit, node, open_design, python_graph, rev, shape, synced


def design() -> dict:
    """Input -> stem -> u1, u2 (two instances of Unit: conv -> BN -> ReLU) -> hc -> hr (flat) -> classifier."""
    nodes = [
        {"id": "input", "op": "Input", "params": {"shape": [3, 12, 12]}},
        {"id": "stem", "op": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3, "padding": 1},
         "inputs": ["input"]},
        {"id": "u1", "op": "Unit", "params": {"ch": 8}, "inputs": ["stem"]},
        {"id": "u2", "op": "Unit", "params": {"ch": 8}, "inputs": ["u1"]},
        {"id": "hc", "op": "Conv2d", "params": {"out_channels": 16, "kernel_size": 3, "padding": 1}, "inputs": ["u2"]},
        {"id": "hr", "op": "ReLU", "inputs": ["hc"]},
        {"id": "pool", "op": "AdaptiveAvgPool2d", "params": {"output_size": 1}, "inputs": ["hr"]},
        {"id": "flat", "op": "Flatten", "inputs": ["pool"]},
        {"id": "fc", "op": "Linear", "params": {"out_features": 5}, "inputs": ["flat"]}]
    for i, n in enumerate(nodes):
        n["ui"] = {"x": 0.0, "y": 120.0 * i}
    return {"format": "convas-graph", "version": 2, "name": "units", "nodes": nodes, "outputs": ["fc"],
            "modules": {"Unit": {"args": {"ch": 8, "stride": 1}, "inputs": ["x"], "nodes": [
                {"id": "conv", "op": "Conv2d", "params": {"out_channels": "$ch", "kernel_size": 3, "padding": 1,
                                                          "stride": "$stride"}, "inputs": ["x"]},
                {"id": "bn", "op": "BatchNorm2d", "inputs": ["conv"]},
                {"id": "act", "op": "ReLU", "inputs": ["bn"]}], "outputs": ["act"]}}}


def params_on(page, nid: str, n: int):
    expect(node(page, nid)).to_contain_text(f"{n:,} params")


def op_on(page, nid: str, op: str):
    expect(node(page, nid).locator(".cv-op")).to_have_text(op)


def checked(app_server) -> engine.Report:
    return engine.check(python_graph(app_server))


def select(page, nid: str) -> None:
    """Click an instance's card and wait for its panel (the selection reaches Python in a run of its own)."""
    node(page, nid).click()
    expect(page.get_by_role("heading", name=re.compile(rf"· {nid}$"))).to_be_visible()
    synced(page)


def inner_field(page, layer: str, param: str):
    """A definition layer's parameter field in the instance panel, its expander opened (it stays open across the
    page's reruns once opened)."""
    field = page.get_by_role("textbox", name=param, exact=True)
    if not field.is_visible():
        page.get_by_text(layer, exact=True).click()
    expect(field).to_be_visible()
    return field


def press(page, button: str) -> None:
    old = rev(page)
    page.get_by_role("button", name=button).click()  # its name also holds the icon's
    after_python_edit(page, old)


def test_make_expand_edit_detach_undo_redo_and_a_broken_inner_layer(page, app_server):
    open_design(page, app_server, design())
    unit = 8 * 8 * 9 + 8 + 2 * 8  # conv 3×3 8->8 with bias, BatchNorm2d(8)
    params_on(page, "u1", unit)
    params_on(page, "u2", unit)
    hr_shape = shape(page, "hr").inner_text()

    # 1. make a module from two selected cards
    node(page, "hc").click()
    synced(page)
    node(page, "hr").click(modifiers=["Control"])
    expect(page.get_by_role("heading", name="Make module")).to_be_visible()
    name = page.get_by_role("textbox", name="Module name", exact=True)
    name.fill("Head")
    name.press("Enter")
    synced(page)
    press(page, "Make module")
    expect(node(page, "head")).to_be_visible()
    expect(node(page, "hc")).to_have_count(0)
    expect(node(page, "hr")).to_have_count(0)
    op_on(page, "head", "Head")
    expect(shape(page, "head")).to_have_text(hr_shape)
    params_on(page, "head", 16 * 8 * 9 + 16)
    assert python_graph(app_server)["modules"]["Head"]["nodes"][0]["op"] == "Conv2d"

    # 2. expand u1 in place: its layers with their shapes inside this instance; then collapse it again
    old = rev(page)
    page.locator("[data-testid=cv-expand-u1]").click()
    after_python_edit(page, old)
    inner = page.locator("[data-testid=cv-inner-u1]")
    expect(inner).to_be_visible()
    flat = checked(app_server).flat
    for lid in ("conv", "bn", "act"):
        expect(page.locator(f"[data-testid=cv-inner-shape-u1-{lid}]")).to_have_text(
            "×".join(map(str, flat.nodes[f"u1.{lid}"].shape)))
    expect(page.locator("[data-testid=cv-inner-u2]")).to_have_count(0)  # only the expanded instance
    screenshot(page, "design_module_expanded")
    old = rev(page)
    page.locator("[data-testid=cv-expand-u1]").click()
    after_python_edit(page, old)
    expect(inner).to_have_count(0)

    # 3. edit the definition from u1's panel: both instances change
    select(page, "u1")
    kernel = inner_field(page, "conv · Conv2d", "kernel_size")
    kernel.fill("1")
    old = rev(page)
    kernel.press("Enter")
    after_python_edit(page, old)
    small = 8 * 8 * 1 + 8 + 2 * 8
    r = checked(app_server)
    assert r.nodes["u1"].params == r.nodes["u2"].params == small  # torch's count, through the flat check
    params_on(page, "u1", small)
    params_on(page, "u2", small)

    # 4. detach u2: its own definition
    select(page, "u2")
    press(page, "Detach")
    op_on(page, "u2", "Unit_2")
    op_on(page, "u1", "Unit")
    assert "Unit_2" in python_graph(app_server)["modules"]
    screenshot(page, "design_module_detached")

    # 5. undo everything, one step at a time, then redo it all
    def undo():
        old = rev(page)
        page.locator("[data-testid=cv-undo]").click()
        after_python_edit(page, old)

    def redo():
        old = rev(page)
        page.locator("[data-testid=cv-redo]").click()
        after_python_edit(page, old)

    undo()
    op_on(page, "u2", "Unit")
    undo()
    params_on(page, "u1", unit)
    params_on(page, "u2", unit)
    undo()  # the collapse
    expect(page.locator("[data-testid=cv-inner-u1]")).to_be_visible()
    undo()  # the expand
    expect(page.locator("[data-testid=cv-inner-u1]")).to_have_count(0)
    undo()  # Make module
    expect(node(page, "hc")).to_be_visible()
    expect(node(page, "head")).to_have_count(0)
    assert "Head" not in python_graph(app_server).get("modules", {})
    for _ in range(5):
        redo()
    op_on(page, "head", "Head")
    op_on(page, "u2", "Unit_2")
    params_on(page, "u1", small)
    expect(page.locator("[data-testid=cv-inner-u1]")).to_have_count(0)

    # 6. break a shape inside Unit: the collapsed u1 turns red, naming the inner layer; u2 waits on it
    select(page, "u1")
    kernel = inner_field(page, "conv · Conv2d", "kernel_size")
    kernel.fill("40")
    old = rev(page)
    kernel.press("Enter")
    after_python_edit(page, old)
    expect(node(page, "u1")).to_have_attribute("data-state", "error")
    expect(page.locator("[data-testid=cv-error-u1]")).to_contain_text("inside Unit 'conv'")
    expect(page.locator("[data-testid=cv-error-u1]")).to_contain_text("kernel 40")
    expect(node(page, "u2")).to_have_attribute("data-state", "blocked")
    expect(page.locator("[data-testid=cv-inner-u1]")).to_have_count(0)  # collapsed
    screenshot(page, "design_module_broken")
    # expanded, the broken layer is the red row
    old = rev(page)
    page.locator("[data-testid=cv-expand-u1]").click()
    after_python_edit(page, old)
    expect(page.locator("[data-testid=cv-inner-u1-conv]")).to_have_attribute("data-state", "error")
    expect(page.locator("[data-testid=cv-inner-u1-bn]")).to_have_attribute("data-state", "ok")
    screenshot(page, "design_module_broken_expanded")
