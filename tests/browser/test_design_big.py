"""A big design on the canvas (a 240-node chain: React Flow draws only the cards in view from 200 cards on): a
burst of edits made without waiting for Python loses none of them, leaves no stale shape, and undo / redo step
through them afterwards. After every step the canvas shows exactly the graph Python holds."""
from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import wait_for_app_idle
from tests.browser.test_design_canvas import (
    after_python_edit,
    connect,
    node,
    open_design,
    python_graph,
    rev,
    shape,
    synced,
)

WIRED = "16×32×32"


def chain_graph(n_nodes: int) -> dict:
    """Input, then conv / batch norm / ReLU repeated to n_nodes nodes in one column (every shape 16×32×32)."""
    nodes = [{"id": "input", "op": "Input", "params": {"shape": [3, 32, 32]}, "ui": {"x": 0, "y": 0}}]
    prev, i = "input", 0
    while len(nodes) < n_nodes:
        i += 1
        for op, params in (("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}), ("BatchNorm2d", {}),
                           ("ReLU", {})):
            if len(nodes) == n_nodes:
                break
            nid = f"{op.lower()[:4]}{i}"
            nodes.append({"id": nid, "op": op, "params": params, "inputs": [prev],
                          "ui": {"x": 0, "y": 100 * len(nodes)}})
            prev = nid
    return {"format": "convas-graph", "version": 1, "name": f"Chain of {n_nodes}", "nodes": nodes,
            "outputs": [prev], "task": {"kind": "classification", "num_classes": 10}}


def conv1_inputs(app_server) -> list[str]:
    return next(n for n in python_graph(app_server)["nodes"] if n["id"] == "conv1").get("inputs", [])


def expect_python(page, app_server, inputs: list[str]) -> None:
    """Python's graph (autosaved at the end of its run) has conv1 fed by `inputs`, and still every node."""
    synced(page)
    deadline_ms, waited = 15_000, 0
    while conv1_inputs(app_server) != inputs and waited < deadline_ms:
        page.wait_for_timeout(100)  # polling the autosave file, not waiting on the UI
        waited += 100
    assert conv1_inputs(app_server) == inputs
    assert len(python_graph(app_server)["nodes"]) == 240


def test_rapid_edits_on_a_big_graph_are_all_kept_and_undoable(page, app_server):
    open_design(page, app_server, chain_graph(240))
    expect(shape(page, "relu2")).to_have_text(WIRED)
    drawn = page.locator("[data-testid^=cv-node-]").count()
    assert 0 < drawn < 240, drawn  # only the cards in view are in the page

    wire = page.locator('[data-testid="rf__edge-e:input>conv1:in0"]')
    for i in range(5):  # cut, rewire, cut, rewire, cut: one after the other, never waiting for Python's answer
        if i % 2 == 0:
            wire.click()
            page.keyboard.press("Delete")
            expect(wire).to_have_count(0)
        else:
            connect(page, "input", "conv1")
            expect(wire).to_have_count(1)
    expect_python(page, app_server, [])  # the last edit won: the wire is cut
    expect(wire).to_have_count(0)
    expect(node(page, "conv1")).to_have_attribute("data-state", "error")  # missing its input
    for nid in ("batc1", "relu1", "conv2", "relu2"):  # no card shows a shape from an earlier edit
        expect(node(page, nid)).to_have_attribute("data-state", "blocked")
    expect(page.locator("[data-testid=cv-status]")).to_have_text("1 problem")  # the verdict the panel says too

    # undo steps back through the burst: the last rewire, then the cut before it; redo forward again
    old = rev(page)
    page.locator("[data-testid=cv-undo]").click()
    after_python_edit(page, old)
    expect(shape(page, "relu2")).to_have_text(WIRED)
    expect(wire).to_have_count(1)
    expect_python(page, app_server, ["input"])
    old = rev(page)
    page.locator("[data-testid=cv-undo]").click()
    after_python_edit(page, old)
    expect(node(page, "relu2")).to_have_attribute("data-state", "blocked")
    expect_python(page, app_server, [])
    for _ in range(2):
        old = rev(page)
        page.locator("[data-testid=cv-redo]").click()
        after_python_edit(page, old)
    expect(node(page, "relu2")).to_have_attribute("data-state", "blocked")
    expect(wire).to_have_count(0)
    expect_python(page, app_server, [])
    expect(page.locator("[data-testid=cv-redo]")).to_be_disabled()
    # the sidebar is not rerun with the canvas: its Save button still downloads the graph as it is now
    with page.expect_download() as dl:
        page.locator("[data-testid=stSidebar]").get_by_role("button", name="Save (download)").click()
    saved = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    assert len(saved["nodes"]) == 240 and "inputs" not in saved["nodes"][1] and saved["nodes"][1]["id"] == "conv1"


def test_a_rename_undone_on_the_canvas_shows_in_the_sidebar(page, app_server):
    open_design(page, app_server, chain_graph(240))
    name = page.locator("[data-testid=stSidebar]").get_by_role("textbox", name="Design")
    expect(name).to_have_value("Chain of 240")
    name.fill("Renamed chain")
    name.press("Enter")
    wait_for_app_idle(page)
    expect(page.get_by_text("Renamed chain · 240 nodes")).to_be_visible()
    old = rev(page)
    page.locator("[data-testid=cv-undo]").click()
    after_python_edit(page, old)
    expect(page.get_by_text("Chain of 240 · 240 nodes")).to_be_visible()
    expect(name).to_have_value("Chain of 240")
