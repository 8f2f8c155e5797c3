"""The app started from app.py (no quick-check route, designer/canvas/quick.py): the canvas asks nothing of the
route and its edits' shapes come with the page's reruns, as before the route existed."""
import os
import shutil

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import AppServer, _require_browser
from tests.browser.test_design_canvas import assert_in_step, connect, node, open_design, shape, synced

WIRE = '[data-testid="rf__edge-e:input>conv1:in0"]'


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    _require_browser()
    home = tmp_path_factory.mktemp("convas_home")
    server = AppServer(home, "app.py")
    yield server
    server.stop()
    if os.environ.get("CONVAS_KEEP_HOME") != "1":
        shutil.rmtree(home, ignore_errors=True)


def test_edits_are_checked_by_the_rerun_without_the_route(page, app_server):
    asked = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/convas/check") else None)
    open_design(page, app_server)
    page.locator(WIRE).click()
    page.keyboard.press("Delete")
    expect(node(page, "fc2")).to_have_attribute("data-state", "blocked")
    synced(page)
    expect(page.locator("[data-testid=cv-status]")).to_have_text("1 problem")
    connect(page, "input", "conv1")
    expect(shape(page, "fc2")).to_have_text("10")
    synced(page)
    assert_in_step(page, app_server)
    assert asked == []
