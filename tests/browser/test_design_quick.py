"""The quick check (designer/canvas/quick.py): as `make app` serves it, a canvas edit's shapes come from the quick-
check route, not from the page's rerun; the rerun still follows, so the panels, the totals and Python's graph end
in step with the canvas; and an edit whose check is held up still reaches Python before a command (undo must
undo that very edit). tests/browser/test_design_plain_server.py: the app started without the route."""
from playwright.sync_api import expect

from tests.browser.test_design_canvas import assert_in_step, connect, node, open_design, shape, synced

WIRE = '[data-testid="rf__edge-e:input>conv1:in0"]'
QUICK = "**/convas/check"
ANSWERED = """() => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/convas/check'))
    .map((e) => e.responseStatus)"""


def test_an_edits_shapes_come_from_the_quick_check_and_the_rerun_follows(page, app_server):
    open_design(page, app_server)
    before = len(page.evaluate(ANSWERED))
    page.locator(WIRE).click()
    page.keyboard.press("Delete")  # conv1 loses its input: everything below waits on it
    expect(node(page, "fc2")).to_have_attribute("data-state", "blocked")
    status = page.locator("[data-testid=cv-status]")
    seq = status.get_attribute("data-seq")
    expect(status).to_have_attribute("data-checked", seq)  # the check of this very edit is drawn
    assert page.evaluate(ANSWERED)[before:] == [200]  # ...and it came from the route
    synced(page)  # the rerun: Python adopted the edit, the panels follow
    expect(status).to_have_text("1 problem")
    expect(page.locator("[data-testid=stAlert]").filter(has_text="conv1")).to_have_count(1)
    assert_in_step(page, app_server)

    connect(page, "input", "conv1")
    expect(shape(page, "fc2")).to_have_text("10")
    synced(page)
    expect(status).to_have_text("All shapes check out")
    expect(page.locator("[data-testid=stMetricValue]").first).to_have_text("3.27M")
    assert_in_step(page, app_server)


def test_undo_right_after_an_edit_whose_check_is_held_up_undoes_that_edit(page, app_server):
    open_design(page, app_server)
    held = []
    page.route(QUICK, lambda route: held.append(route))  # the quick check of the next edit does not answer until released
    page.locator(WIRE).click()
    with page.expect_request(lambda r: r.url.endswith("/convas/check")):
        page.keyboard.press("Delete")
    page.wait_for_function("() => true")  # one more round trip: the route handler has taken the request
    assert len(held) == 1
    page.keyboard.press("Control+z")  # before the edit's check (or the edit itself, without a flush) got anywhere
    synced(page)
    for route in held:
        route.continue_()  # the late answer is for a revision the undo replaced: the canvas leaves it
    page.unroute(QUICK)
    expect(page.locator(WIRE)).to_have_count(1)  # the wire is back: the undo undid the cut
    expect(shape(page, "fc2")).to_have_text("10")
    synced(page)
    assert_in_step(page, app_server)
    page.keyboard.press("Control+Shift+z")  # and redo cuts it again: the cut was one step in the history
    synced(page)
    expect(page.locator(WIRE)).to_have_count(0)
    expect(node(page, "fc2")).to_have_attribute("data-state", "blocked")
    assert_in_step(page, app_server)
