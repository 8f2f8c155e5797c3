"""Modules on the Design page in a real browser (issue 14's acceptance journey): make a module from a selection of
cards, expand an instance, click a layer on its expanded card and edit it with the op's form (every instance
updates), collapse back to the instance, rename the module, detach one instance and edit its copy (the other does
not change), undo and redo across all of these, and break a shape inside a module to see the collapsed card turn red
naming the inner layer. engine.check on the graph Python autosaved is the oracle for what the cards show."""
from __future__ import annotations

import re
import time

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


def layer_panel(page, layer: str, instance: str):
    return page.get_by_role("heading", name=re.compile(rf"· {layer} in {instance}$"))


def expand(page, nid: str, app_server=None) -> None:
    """Click an instance's ▸/▾ toggle and wait for Python's answer (the expanded state is an undoable edit) and,
    given the server, for its autosave (written at the end of that run, which may end after the canvas has it)."""
    old, stamp = rev(page), (saved_stamp(app_server) if app_server is not None else None)
    page.locator(f"[data-testid=cv-expand-{nid}]").click()
    after_python_edit(page, old)
    if app_server is not None:
        autosaved_since(page, app_server, stamp)


def pick_layer(page, nid: str, layer: str) -> None:
    """Click a layer on an expanded instance's card: the Properties panel shows that layer's form."""
    page.locator(f"[data-testid=cv-inner-{nid}-{layer}]").click()
    expect(layer_panel(page, layer, nid)).to_be_visible()
    expect(page.locator(f"[data-testid=cv-inner-{nid}-{layer}]")).to_have_attribute("data-selected", "1")
    synced(page)


def saved_stamp(app_server) -> tuple[int, int] | None:
    """The autosave file's identity: each save writes a new file and renames it into place (engine.atomic)."""
    try:
        s = (app_server.home / "autosave.json").stat()
    except FileNotFoundError:
        return None
    return s.st_ino, s.st_mtime_ns


def autosaved_since(page, app_server, stamp: tuple[int, int] | None, timeout: float = 15.0) -> None:
    """Until Python has autosaved again (it writes at the end of the run that answered the edit, which can end
    after the canvas shows the answer): polls the file, not the UI."""
    deadline = time.monotonic() + timeout
    while saved_stamp(app_server) == stamp and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert saved_stamp(app_server) != stamp, "the edit was not autosaved"


def set_field(page, label: str, value: str, app_server) -> None:
    """Type into the Properties panel's text field `label` and press Enter: one edit Python answers and autosaves.
    The field is not left: what follows (an undo, a redo, a click) finds the page as Enter left it."""
    field = page.get_by_role("textbox", name=label, exact=True)
    field.fill(value)
    old, saved = rev(page), saved_stamp(app_server)
    field.press("Enter")
    after_python_edit(page, old)
    autosaved_since(page, app_server, saved)


def press(page, button: str, app_server) -> None:
    old, saved = rev(page), saved_stamp(app_server)
    page.get_by_role("button", name=button).click()  # its name also holds the icon's
    after_python_edit(page, old)
    autosaved_since(page, app_server, saved)


def test_make_expand_edit_detach_undo_redo_and_a_broken_inner_layer(page, app_server):
    """The issue's acceptance journey, as one story a user would follow."""
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
    press(page, "Make module", app_server)
    expect(node(page, "head")).to_be_visible()
    expect(node(page, "hc")).to_have_count(0)
    expect(node(page, "hr")).to_have_count(0)
    op_on(page, "head", "Head")
    expect(shape(page, "head")).to_have_text(hr_shape)
    params_on(page, "head", 16 * 8 * 9 + 16)
    assert python_graph(app_server)["modules"]["Head"]["nodes"][0]["op"] == "Conv2d"

    # 2. expand u1 in place: its layers with their shapes inside this instance
    expand(page, "u1")
    inner = page.locator("[data-testid=cv-inner-u1]")
    expect(inner).to_be_visible()
    flat = checked(app_server).flat
    for lid in ("conv", "bn", "act"):
        expect(page.locator(f"[data-testid=cv-inner-shape-u1-{lid}]")).to_have_text(
            "×".join(map(str, flat.nodes[f"u1.{lid}"].shape)))
    expect(page.locator("[data-testid=cv-inner-u2]")).to_have_count(0)  # only the expanded instance
    screenshot(page, "design_module_expanded")

    # 3. edit the definition from the expanded card: click its conv layer, the op's form says it reaches both
    pick_layer(page, "u1", "conv")
    expect(page.get_by_text("all 2 instances (u1, u2)")).to_be_visible()
    set_field(page, "kernel_size", "1", app_server)
    small = 8 * 8 * 1 + 8 + 2 * 8
    r = checked(app_server)
    assert r.nodes["u1"].params == r.nodes["u2"].params == small  # torch's count, through the flat check
    params_on(page, "u1", small)
    params_on(page, "u2", small)
    expect(page.locator("[data-testid=cv-inner-u1-conv]")).to_contain_text(f"{8 * 8 + 8} params")  # its own row
    expect(layer_panel(page, "conv", "u1")).to_be_visible()  # still the layer's form after the edit
    screenshot(page, "design_module_layer_edit")

    # 4. collapse: back to the instance's panel; rename its module, every instance follows
    expand(page, "u1")
    expect(inner).to_have_count(0)
    expect(page.get_by_role("heading", name=re.compile(r"· u1$"))).to_be_visible()
    set_field(page, "Module name", "ConvUnit", app_server)
    op_on(page, "u1", "ConvUnit")
    op_on(page, "u2", "ConvUnit")
    assert "class ConvUnit(nn.Module)" in engine.to_python(python_graph(app_server))

    # 5. detach u2, then edit its own copy from its expanded card: u1 does not change
    select(page, "u2")
    press(page, "Detach", app_server)
    op_on(page, "u2", "ConvUnit_2")
    op_on(page, "u1", "ConvUnit")
    expand(page, "u2")
    pick_layer(page, "u2", "conv")
    expect(page.get_by_text("its one instance")).to_be_visible()
    set_field(page, "kernel_size", "3", app_server)
    r = checked(app_server)
    assert r.nodes["u2"].params == unit and r.nodes["u1"].params == small
    params_on(page, "u2", unit)
    params_on(page, "u1", small)
    screenshot(page, "design_module_detached")

    # 6. undo everything, one step at a time, then redo it all
    def undo():
        old, saved = rev(page), saved_stamp(app_server)
        page.locator("[data-testid=cv-undo]").click()
        after_python_edit(page, old)
        autosaved_since(page, app_server, saved)

    def redo():
        old, saved = rev(page), saved_stamp(app_server)
        page.locator("[data-testid=cv-redo]").click()
        after_python_edit(page, old)
        autosaved_since(page, app_server, saved)

    undo()  # u2's own edit
    params_on(page, "u2", small)
    undo()  # u2's expand
    expect(page.locator("[data-testid=cv-inner-u2]")).to_have_count(0)
    undo()  # the detach
    op_on(page, "u2", "ConvUnit")
    undo()  # the rename
    op_on(page, "u1", "Unit")
    op_on(page, "u2", "Unit")
    undo()  # the collapse
    expect(inner).to_be_visible()
    undo()  # the definition's edit
    params_on(page, "u1", unit)
    params_on(page, "u2", unit)
    undo()  # the expand
    expect(inner).to_have_count(0)
    undo()  # Make module
    expect(node(page, "hc")).to_be_visible()
    expect(node(page, "head")).to_have_count(0)
    assert "Head" not in python_graph(app_server).get("modules", {})
    for _ in range(8):
        redo()
    op_on(page, "head", "Head")
    op_on(page, "u1", "ConvUnit")
    op_on(page, "u2", "ConvUnit_2")
    params_on(page, "u1", small)
    params_on(page, "u2", unit)
    expect(inner).to_have_count(0)
    expect(page.locator("[data-testid=cv-inner-u2]")).to_be_visible()
    assert python_graph(app_server)["modules"].keys() == {"ConvUnit", "ConvUnit_2", "Head"}

    # 7. break a shape inside ConvUnit from u1's expanded card, collapse it: the card is red, naming the layer
    expand(page, "u1")
    pick_layer(page, "u1", "conv")
    set_field(page, "kernel_size", "40", app_server)
    expect(page.locator("[data-testid=cv-inner-u1-conv]")).to_have_attribute("data-state", "error")
    expect(page.locator("[data-testid=cv-inner-error-u1-conv]")).to_contain_text("kernel 40")
    expect(page.locator("[data-testid=cv-inner-u1-bn]")).to_have_attribute("data-state", "ok")
    screenshot(page, "design_module_broken_expanded")
    expand(page, "u1")
    expect(inner).to_have_count(0)
    expect(node(page, "u1")).to_have_attribute("data-state", "error")
    expect(page.locator("[data-testid=cv-error-u1]")).to_contain_text("inside ConvUnit 'conv'")
    expect(page.locator("[data-testid=cv-error-u1]")).to_contain_text("kernel 40")
    expect(node(page, "u2")).to_have_attribute("data-state", "blocked")  # it reads u1
    assert "inside ConvUnit 'conv'" in checked(app_server).nodes["u1"].error
    screenshot(page, "design_module_broken")
