"""How long a canvas edit takes to come back as redrawn shapes, on a 50-node graph (printed, never asserted: run
with -s to see it). Each edit cuts or restores the wire under the whole network, so all 49 cards change state.

The canvas stamps the moment it sends an edit and the first painted frame after Python's check of that edit is
merged (window.__convasLatency); the figures are those stamps, measured in the page itself."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_design_canvas import connect, node, open_design, shape, synced

EDITS = 20


def fifty_node_graph() -> dict:
    nodes = [{"id": "input", "op": "Input", "params": {"shape": [3, 32, 32]}, "ui": {"x": 0, "y": 0}}]
    prev = "input"
    for i in range(1, 16):  # 15 × (conv, batch norm, relu) = 45 nodes
        for op, params in (("Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}), ("BatchNorm2d", {}),
                           ("ReLU", {})):
            nid = f"{op.lower()[:4]}{i}"
            nodes.append({"id": nid, "op": op, "params": params, "inputs": [prev],
                          "ui": {"x": 0, "y": 100 * len(nodes)}})
            prev = nid
    for nid, op, params in (("gap", "GlobalAvgPool2d", {}), ("flat", "Flatten", {}), ("drop", "Dropout", {}),
                            ("fc", "Linear", {"out_features": 10})):
        nodes.append({"id": nid, "op": op, "params": params, "inputs": [prev], "ui": {"x": 0, "y": 100 * len(nodes)}})
        prev = nid
    assert len(nodes) == 50
    return {"format": "convas-graph", "version": 1, "name": "Fifty layers", "nodes": nodes, "outputs": ["fc"],
            "task": {"kind": "classification", "num_classes": 10}}


def test_edit_to_redrawn_shapes_latency(page, app_server):
    open_design(page, app_server, fifty_node_graph())
    expect(shape(page, "fc")).to_have_text("10")
    page.evaluate("window.__convasLatency = {started: {}, samples: []}")
    wire = page.locator('[data-testid="rf__edge-e:input>conv1:in0"]')
    for i in range(EDITS):
        if i % 2 == 0:  # cut the wire under the whole network: every card below goes to "waiting on input"
            wire.click()
            page.keyboard.press("Delete")
            synced(page)
            expect(node(page, "fc")).to_have_attribute("data-state", "blocked")
        else:  # and wire it back: every shape comes back
            connect(page, "input", "conv1")
            synced(page)
            expect(shape(page, "fc")).to_have_text("10")
    page.wait_for_function(f"window.__convasLatency.samples.length >= {EDITS}")
    samples = page.evaluate("window.__convasLatency.samples")
    trips = page.evaluate("window.__convasLatency.roundTrips")
    assert len(samples) == EDITS and len(trips) == EDITS
    p50, p95 = pct(samples, 50), pct(samples, 95)
    print(f"\ncanvas edit -> redrawn shapes on a 50-node graph, {EDITS} edits: "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms (min {min(samples):.0f}, max {max(samples):.0f}); "
          f"target p95 <= 150 ms, ratio p95/target {p95 / 150:.2f}")
    print(f"  of which edit -> Python's answer at the canvas: p50 {pct(trips, 50):.0f} ms, p95 {pct(trips, 95):.0f} ms; "
          f"answer -> painted frame: p50 {pct([a - b for a, b in zip(samples, trips)], 50):.0f} ms")


def pct(xs: list[float], q: int) -> float:
    """The q-th percentile, linear between order statistics (numpy's default)."""
    s = sorted(xs)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (k - lo)
