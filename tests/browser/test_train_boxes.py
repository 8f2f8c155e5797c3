"""The Train page with a detector: train the Tiny grid detector a few steps on mnist-detect, and see the
validation images with their boxes drawn, more of them as the confidence slider goes down."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from engine.train import runs as R
from engine.train.rundir import RunDir
from tests.browser.conftest import open_page, open_template, screenshot_whole, wait_for_app_idle, wait_for_app_ready
from tests.browser.test_train_page import badge, set_number, wait_for_chart

# shapes drawn over the example images: [ground-truth rects, predicted rects] summed over every box figure
SHAPES = """() => { let t = 0, p = 0;
  for (const g of document.querySelectorAll('.js-plotly-plot')) {
    if (!(g.data ?? []).some(d => d.type === 'image')) continue;
    for (const s of g.layout?.shapes ?? []) { if (s.line?.dash === 'dash') t++; else p++; }
  }
  return [t, p]; }"""


@pytest.fixture(scope="module", autouse=True)
def stop_runs_at_the_end(app_server):
    yield
    root = app_server.home / "runs"
    for r in R.list_runs(root):
        R.stop_run(r["path"])
    deadline = time.monotonic() + 60
    while any(RunDir(r["path"]).is_alive() for r in R.list_runs(root)) and time.monotonic() < deadline:
        time.sleep(0.5)  # waiting for processes to exit, not for the UI


def test_a_tiny_detector_trains_and_its_boxes_are_drawn(page):
    wait_for_app_ready(page)
    open_template(page, "Tiny grid detector")
    open_page(page, "Train")
    if not page.get_by_role("button", name="Start training").is_visible():
        page.get_by_text("New run: data and settings").click()
    page.get_by_role("combobox", name="Dataset").click()
    page.get_by_role("option", name="MNIST detection (1–5 digits, boxes)").click()
    set_number(page, "Epochs", 1)
    set_number(page, "Batch size", 16)
    page.get_by_text("More", exact=True).click()
    set_number(page, "Stop after N steps (0: all)", 20)
    page.get_by_role("button", name="Start training").click()
    expect(badge(page)).to_contain_text("finished", timeout=600_000)
    wait_for_chart(page, "Loss parts")
    wait_for_chart(page, "AP@0.5 per class")
    wait_for_chart(page, "Precision–recall")
    expect(page.locator("[data-testid=stMetric]").filter(has=page.get_by_text("mAP@0.5", exact=True))).to_be_visible()
    page.wait_for_function(f"() => ({SHAPES})()[0] > 0", timeout=60_000)  # ground truth drawn on the images
    wait_for_app_idle(page)
    slider = page.get_by_role("slider")
    slider.focus()
    slider.press("Home")  # threshold 0.05: every box the results kept
    page.wait_for_function(f"() => ({SHAPES})()[1] > 0", timeout=60_000)
    truth, predicted = page.evaluate(SHAPES)
    assert truth >= 8 and predicted > 0
    screenshot_whole(page, "train_detector_boxes")
