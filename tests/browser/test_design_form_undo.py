"""Undo and redo right after a Properties-form edit, without leaving the field. The defect (issue 14's note): the
field seemed to re-send its old text after an undo; the cause was a page run cut short. When the undo's click
arrives while the run that answered the edit is still drawing the page, Streamlit calls every field that run drew
back in the undo's run, with the value it was drawn with, after the undo: the edit came back, or an invisible step
cleared the redo (designer/design/form.py as_drawn). A text field (kernel_size) and a number field (out_channels):
type, Enter, undo with the canvas's button or Ctrl+Z; after each step the canvas card, the form and the graph Python
autosaved agree, redo brings the edit back, and no step is left over. Then undo and redo clicked in quick succession
on DenseNet-121, each click cutting the last run short (on the old code this ended on the wrong value or without its
redo in 2 of 4 runs). engine.check on the autosaved graph is the oracle for the card's parameter count."""
from __future__ import annotations

import json

from playwright.sync_api import expect

import engine
from engine.catalog import catalog_dict
from tests.browser.conftest import screenshot
from tests.browser.test_design_canvas import (
    after_python_edit,
    assert_in_step,
    node,
    open_design,
    python_graph,
    rev,
    synced,
)
from tests.conftest import TEMPLATES


def design() -> dict:
    nodes = [
        {"id": "input", "op": "Input", "params": {"shape": [3, 12, 12]}},
        {"id": "conv", "op": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3, "padding": 1},
         "inputs": ["input"]},
        {"id": "flat", "op": "Flatten", "inputs": ["conv"]},
        {"id": "fc", "op": "Linear", "params": {"out_features": 5}, "inputs": ["flat"]}]
    for i, n in enumerate(nodes):
        n["ui"] = {"x": 0.0, "y": 120.0 * i}
    return {"format": "convas-graph", "version": 2, "name": "one conv", "nodes": nodes, "outputs": ["fc"]}


def agree(page, app_server, label: str, role: str, text: str) -> None:
    """The form's field shows `text`, and the card's parameter count is the one engine.check finds in the graph
    Python autosaved, whose `label` parameter reads `text`."""
    expect(page.get_by_role(role, name=label, exact=True)).to_have_value(text)
    g = python_graph(app_server)
    conv = next(n for n in g["nodes"] if n["id"] == "conv")
    default = next(p["default"] for p in catalog_dict()["Conv2d"]["params"] if p["name"] == label)
    assert str(conv["params"].get(label, default)) == text, conv  # a value equal to the default is left out
    expect(node(page, "conv")).to_contain_text(f"{engine.check(g).nodes['conv'].params:,} params")


def undo_with(page, how: str, redo: bool = False) -> None:
    old = rev(page)
    if how == "button":
        page.locator(f"[data-testid=cv-{'redo' if redo else 'undo'}]").click()
    else:
        page.keyboard.press("Control+Shift+z" if redo else "Control+z")
    after_python_edit(page, old)


def test_undo_and_redo_right_after_a_form_edit_apply_nothing_stale(page, app_server):
    open_design(page, app_server, design())
    node(page, "conv").click()
    expect(page.get_by_role("textbox", name="id", exact=True)).to_have_value("conv")
    synced(page)
    undo = page.locator("[data-testid=cv-undo]")
    redo = page.locator("[data-testid=cv-redo]")
    expect(undo).to_be_disabled()
    for label, role, before, after, how in (("kernel_size", "textbox", "3", "5", "button"),
                                            ("out_channels", "spinbutton", "8", "12", "keys")):
        box = page.get_by_role(role, name=label, exact=True)
        box.fill(after)
        old = rev(page)
        box.press("Enter")  # no blur: the page as Enter left it
        after_python_edit(page, old)
        agree(page, app_server, label, role, after)

        undo_with(page, how)
        agree(page, app_server, label, role, before)
        expect(redo).to_be_enabled()  # nothing re-sent the old text: the redo is still there
        expect(undo).to_be_disabled()  # and no step was added: back where the design began
        screenshot(page, f"design_form_undo_{label}")

        undo_with(page, how, redo=True)
        agree(page, app_server, label, role, after)
        expect(redo).to_be_disabled()
        undo_with(page, how)  # and once more: the same single step
        agree(page, app_server, label, role, before)
        expect(undo).to_be_disabled()
    assert python_graph(app_server)["nodes"][1]["params"] == design()["nodes"][1]["params"]


def test_undo_and_redo_clicked_in_quick_succession_leave_no_stray_step(page, app_server):
    """Each click as soon as the canvas shows Python's answer to the last one, while that run still draws the rest
    of the page (the click cuts it short): Streamlit then calls the fields of the cut-short form back with the values
    they were drawn with, after the next undo or redo changed the design. None of them may count as an edit.
    DenseNet-121 (its summary and autosave take a while after the form is drawn), its stem conv's kernel 7 -> 5."""
    g = json.loads((TEMPLATES / "densenet121.json").read_text())
    open_design(page, app_server, g)
    node(page, "conv0").click()
    expect(page.get_by_role("textbox", name="id", exact=True)).to_have_value("conv0")
    synced(page)
    box = page.get_by_role("textbox", name="kernel_size", exact=True)
    box.fill("5")
    old = rev(page)
    box.press("Enter")
    after_python_edit(page, old)
    status = page.locator("[data-testid=cv-status]")
    for i in range(20):  # undo, redo, ... : ends on a redo
        old = rev(page)
        page.locator(f"[data-testid=cv-{'redo' if i % 2 else 'undo'}]").click()
        expect(status).not_to_have_attribute("data-rev", old)  # the canvas has the answer; the run goes on
    synced(page)
    expect(box).to_have_value("5")
    expect(page.locator("[data-testid=cv-redo]")).to_be_disabled()
    undo_with(page, "button")
    expect(box).to_have_value("7")
    expect(page.locator("[data-testid=cv-undo]")).to_be_disabled()  # one step, as made: nothing added
    expect(page.locator("[data-testid=cv-redo]")).to_be_enabled()
    assert_in_step(page, app_server)
    assert python_graph(app_server)["nodes"][1]["params"]["kernel_size"] == 7
