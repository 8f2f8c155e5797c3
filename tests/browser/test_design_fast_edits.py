"""Fast canvas edits keep the whole Design page right: after a wire is cut and restored several times without
waiting for Python in between (each edit leaves for Python before the canvas redraws it, useGraphSync.ts), the
canvas, the totals, the problems panel and the properties form all describe the last design, Python's graph matches
the screen, and undo still walks back one edit at a time."""
from playwright.sync_api import expect

from tests.browser.test_design_canvas import assert_in_step, connect, node, open_design, shape, synced

WIRE = '[data-testid="rf__edge-e:input>conv1:in0"]'


def test_fast_edits_leave_canvas_panels_and_python_in_step(page, app_server):
    open_design(page, app_server)
    params = page.locator("[data-testid=stMetricValue]").first
    expect(params).to_have_text("3.27M")

    page.locator(WIRE).click()
    page.keyboard.press("Delete")  # conv1 loses its input: everything below waits on it
    synced(page)
    expect(node(page, "fc2")).to_have_attribute("data-state", "blocked")
    expect(page.locator("[data-testid=cv-status]")).to_have_text("1 problem")
    expect(page.locator("[data-testid=stAlert]").filter(has_text="conv1")).to_have_count(1)  # the panel follows
    expect(params).to_contain_text("≥")  # partial totals

    # fast: restore the wire, cut it, restore it again, without waiting for Python in between
    connect(page, "input", "conv1")
    page.locator(WIRE).click()
    page.keyboard.press("Delete")
    connect(page, "input", "conv1")
    synced(page)
    expect(shape(page, "fc2")).to_have_text("10")
    expect(page.locator("[data-testid=cv-status]")).to_have_text("All shapes check out")
    expect(params).to_have_text("3.27M")  # the totals caught up with the last edit, not an earlier one
    expect(page.locator("[data-testid=stAlert]").filter(has_text="conv1")).to_have_count(0)
    assert_in_step(page, app_server)

    # a selection made on the canvas reaches the properties form
    node(page, "conv2").click()
    synced(page)
    expect(page.get_by_role("textbox", name="kernel_size", exact=True)).to_be_visible()

    # undo goes back one edit at a time: the last edit restored the wire, so undo cuts it again
    page.locator("[data-testid=cv-flow] .react-flow__pane").click(position={"x": 30, "y": 200})
    page.keyboard.press("Control+z")
    synced(page)
    expect(node(page, "fc2")).to_have_attribute("data-state", "blocked")
    expect(params).to_contain_text("≥")
    assert_in_step(page, app_server)
