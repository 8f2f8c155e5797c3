"""Live per-layer diagnostics in a real browser: train LeNet-5 on the CPU with a learning rate far too high, watch
the health overlay appear on the Design page's canvas and update as the run records more steps, then apply a
remedy (ReLU -> LeakyReLU, one edit of the design) and undo it with the canvas's Undo button."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from engine.train import runs as R
from engine.train.rundir import RunDir
from tests.browser.conftest import open_template, screenshot_whole, wait_for_app_idle, wait_for_app_ready
from tests.browser.test_train_page import badge, set_number, wait_for_chart


@pytest.fixture(scope="module", autouse=True)
def stop_runs_at_the_end(app_server):
    """Trainers outlive the app by design: stop the ones this module started."""
    yield
    for root in app_server.home.rglob("runs"):
        for r in R.list_runs(root):
            R.stop_run(r["path"])
        deadline = time.monotonic() + 60
        while any(RunDir(r["path"]).is_alive() for r in R.list_runs(root)) and time.monotonic() < deadline:
            time.sleep(0.5)  # waiting for processes to exit, not for the UI


def go(page, title: str) -> None:
    """open_page, with time for a page's first run on a busy machine (imports plotly, reads the runs)."""
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible(timeout=60_000)
    wait_for_app_idle(page)


def legend_step(page) -> int:
    return int(page.get_by_test_id("cv-health-legend").get_attribute("data-step") or 0)


def test_health_overlay_updates_live_and_a_remedy_is_applied_and_undone(page):
    wait_for_app_ready(page)
    open_template(page, "LeNet-5")
    go(page, "Train")
    if not page.get_by_role("button", name="Start training").is_visible():
        page.get_by_text("New run: data and settings").click()
    set_number(page, "Epochs", 2)
    set_number(page, "Batch size", 16)  # ~560 steps an epoch: the run stays live while the page is looked at
    box = page.get_by_role("spinbutton", name="Learning rate")
    box.fill("1")
    box.press("Tab")
    page.get_by_text("More", exact=True).click()
    set_number(page, "Layer diagnostics every N steps (0: off)", 4)
    page.get_by_role("button", name="Start training").click()
    expect(badge(page)).to_contain_text(re.compile("queued|running"), timeout=60_000)
    wait_for_chart(page, "per layer")  # the Train page's small multiples
    screenshot_whole(page, "health_train_layers")

    go(page, "Design")
    legend = page.get_by_test_id("cv-health-legend")
    expect(legend).to_be_visible(timeout=60_000)
    expect(legend).to_contain_text("LeNet-5")
    expect(page.get_by_test_id("cv-health-conv1")).to_be_visible()
    expect(page.get_by_test_id("cv-health-fc3")).to_be_visible()
    expect(page.get_by_test_id("cv-health-relu1")).to_have_count(0)  # the update ratio: layers with weights only
    first = legend_step(page)
    expect(legend).not_to_have_attribute("data-step", str(first), timeout=120_000)  # redrawn as the run goes on
    assert legend_step(page) > first
    page.get_by_test_id("cv-health-conv1").hover()  # the sparkline of its history
    expect(page.get_by_test_id("cv-health-conv1").get_by_test_id("cv-spark")).to_be_visible()
    screenshot_whole(page, "health_overlay")

    # lr 1 kills the ReLUs: the warning offers LeakyReLU as one undoable edit of the design
    warnings = page.get_by_text(re.compile(r"^\d+ training warnings?$"))
    expect(warnings).to_be_visible(timeout=120_000)
    wait_for_app_idle(page)
    warnings.click()
    # one warning for every dead ReLU layer: its remedy replaces them all, relu1 among them (one edit)
    remedy = page.get_by_role("button", name=re.compile(r"^Replace .*\brelu1\b.* by LeakyReLU$"))
    expect(remedy).to_be_visible(timeout=120_000)
    wait_for_app_idle(page)
    remedy.click()
    op = page.get_by_test_id("cv-node-relu1").locator(".cv-op")
    expect(op).to_have_text("LeakyReLU", timeout=30_000)
    screenshot_whole(page, "health_remedy_applied")
    page.get_by_test_id("cv-undo").click()
    expect(op).to_have_text("ReLU", timeout=30_000)
    screenshot_whole(page, "health_remedy_undone")
