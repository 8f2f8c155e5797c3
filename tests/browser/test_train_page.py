"""The Train page in a real browser: train mnist-sample for one epoch and watch the loss chart gain points and
the run finish with its results; reload mid-training and find the run still live; Stop, then Resume."""
from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from engine.train import runs as R
from engine.train.rundir import RunDir
from tests.browser.conftest import open_page, open_template, screenshot_whole, wait_for_app_idle, wait_for_app_ready
from tests.conftest import TEMPLATES

LOSS_POINTS = """() => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if ((gd.layout?.title?.text ?? '').includes('Loss')) {
      const t = (gd.data ?? []).find(d => (d.name ?? '').endsWith('train'));
      return t ? t.x.length : 0;
    }
  }
  return 0;
}"""
TRACES_OF_LOSS = """[...document.querySelectorAll('.js-plotly-plot')]
  .filter(g => (g.layout?.title?.text ?? '').includes('Loss')).map(g => g.data.length)[0] ?? 0"""
STEP = re.compile(r"step ([\d,]+) / ([\d,]+)")


@pytest.fixture(scope="module", autouse=True)
def stop_runs_at_the_end(app_server):
    """Trainers are detached from the app (they outlive it by design): stop the ones this module started."""
    yield
    root = app_server.home / "runs"
    for r in R.list_runs(root):
        R.stop_run(r["path"])
    deadline = time.monotonic() + 60
    while any(RunDir(r["path"]).is_alive() for r in R.list_runs(root)) and time.monotonic() < deadline:
        time.sleep(0.5)  # waiting for processes to exit, not for the UI


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label)
    box.fill(str(value))
    box.press("Tab")


def wait_for_chart(page, title: str) -> None:
    """Until a plotly chart whose title contains `title` is drawn (plotly renders after the element appears)."""
    page.wait_for_function("""t => [...document.querySelectorAll('.js-plotly-plot')]
        .some(g => (g.layout?.title?.text ?? '').includes(t) && (g.data ?? []).length > 0)""", arg=title,
                           timeout=60_000)


def badge(page):
    return page.locator(".st-key-run_state .stMarkdownBadge")


def current_step(page) -> int:
    progress = page.locator("[data-testid=stProgress]")
    expect(progress).to_contain_text(STEP)  # also while the page redraws after a state change
    m = STEP.search(progress.inner_text())
    return int(m.group(1).replace(",", "")) if m else -1


def wait_step_above(page, n: int, timeout_ms: int = 120_000) -> None:
    page.wait_for_function("""n => { const e = document.querySelector('[data-testid=stProgress]');
        const m = e && e.innerText.match(/step ([\\d,]+) \\//); return m && +m[1].replace(/,/g, '') > n; }""",
                           arg=n, timeout=timeout_ms)


def start(page, epochs: int, batch_size: int | None = None) -> None:
    open_page(page, "Train")
    if not page.get_by_role("button", name="Start training").is_visible():  # settings fold away once runs exist
        page.get_by_text("New run: data and settings").click()
    set_number(page, "Epochs", epochs)
    if batch_size is not None:
        set_number(page, "Batch size", batch_size)
    page.get_by_role("button", name="Start training").click()
    expect(badge(page)).to_contain_text(re.compile("queued|running"), timeout=60_000)


def test_no_runs_yet_and_a_broken_design_cannot_start(page, tmp_path):
    wait_for_app_ready(page)
    open_page(page, "Train")
    expect(page.get_by_text("No runs yet")).to_be_visible()
    expect(page.get_by_role("button", name="Start training")).to_be_enabled()
    g = json.loads((TEMPLATES / "lenet5.json").read_text())
    g["name"] = "Too big a kernel"
    g["nodes"][1]["params"]["kernel_size"] = 40
    bad = tmp_path / "big_kernel.json"
    bad.write_text(json.dumps(g))
    page.locator("[data-testid=stSidebar]").get_by_role("button", name="Open…").click()
    page.locator("[data-testid=stPopoverBody] [data-testid=stFileUploaderDropzoneInput]").set_input_files(str(bad))
    expect(page.locator("[data-testid=stSidebar]").get_by_role("textbox", name="Design")).to_have_value(
        "Too big a kernel")
    page.keyboard.press("Escape")
    wait_for_app_idle(page)
    expect(page.locator("[data-testid=stAlertContentError]")).to_contain_text("fix them on the Design page")
    expect(page.locator("[data-testid=stAlertContentError]")).to_contain_text("conv1")
    expect(page.get_by_role("button", name="Start training")).to_be_disabled()
    screenshot_whole(page, "train_refused")


def test_train_one_epoch_the_loss_chart_gains_points_and_the_run_finishes(page):
    wait_for_app_ready(page)
    open_template(page, "LeNet-5")
    # batch 4: 2,250 steps (225 logged points, under the chart's 300-point cap), several seconds even on an idle
    # machine, so the page sees the curve grow; at the default batch the epoch can end within one refresh
    start(page, epochs=1, batch_size=4)
    page.wait_for_function(f"() => ({LOSS_POINTS})() >= 1", timeout=120_000)
    first = page.evaluate(LOSS_POINTS)
    screenshot_whole(page, "train_live")
    page.wait_for_function(f"n => ({LOSS_POINTS})() > n", arg=first, timeout=120_000)  # it draws as it trains
    expect(badge(page)).to_contain_text("finished", timeout=240_000)
    page.wait_for_function(f"() => ({LOSS_POINTS})() >= 200", timeout=30_000)  # 2,250 steps logged every 10
    expect(page.get_by_role("heading", name="Results")).to_be_visible()
    expect(page.locator("[data-testid=stMetric]").filter(has=page.get_by_text("Test accuracy", exact=True))) \
        .to_contain_text("%")
    expect(page.get_by_text("Measured once, at the end, on the test")).to_be_visible()  # which split, said
    for want in ("Confusion matrix", "Accuracy per class", "mistakes"):
        wait_for_chart(page, want)
    screenshot_whole(page, "train_finished")


def test_reload_finds_the_run_live_then_stop_and_resume(page, app_server):
    wait_for_app_ready(page)
    open_template(page, "LeNet-5")
    start(page, epochs=4)
    wait_step_above(page, 0)
    # the runs table (open: two runs) follows the run live, as the section below does: not "queued" until it ends
    grid = page.locator("[data-testid=stDataFrame]").first
    expect(grid.locator("[role=gridcell]").filter(has_text=re.compile(r"^running$"))).to_have_count(1,
                                                                                                    timeout=30_000)
    page.reload()  # a new browser session: the page must find the running run again
    wait_for_app_ready(page)
    expect(badge(page)).to_contain_text("running", timeout=30_000)
    before = current_step(page)
    wait_step_above(page, before)  # and it is live: the numbers keep moving without a click
    screenshot_whole(page, "train_reloaded")

    page.locator(".st-key-run_buttons").get_by_role("button", name="Stop").click()
    expect(badge(page)).to_contain_text("stopped", timeout=60_000)
    expect(page.get_by_text("the checkpoint is saved")).to_be_visible()
    stopped_at = current_step(page)
    assert stopped_at > 0
    screenshot_whole(page, "train_stopped")
    run_dir = R.list_runs(app_server.home / "runs")[0]["path"]
    logged, _ = RunDir(run_dir).metrics()

    wait_for_app_idle(page)
    page.locator(".st-key-run_buttons").get_by_role("button", name="Resume").click()
    expect(badge(page)).to_contain_text(re.compile("queued|running"), timeout=60_000)
    wait_step_above(page, stopped_at + 10)
    after, _ = RunDir(run_dir).metrics()
    assert after[:len(logged)] == logged  # it continued the same run from its checkpoint: history kept as is
    assert [r["step"] for r in after if r["kind"] == "step"] == sorted({r["step"] for r in after
                                                                          if r["kind"] == "step"})
    screenshot_whole(page, "train_resumed")

    # the runs list: select the finished run of the test before to overlay its curves on the live one's
    grid = page.locator(".st-key-runs_table [data-testid=stDataFrame], [data-testid=stDataFrame]").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 * 2.5)  # the selection checkbox of the second row
    page.wait_for_function(f"() => {TRACES_OF_LOSS} >= 4", timeout=30_000)  # train + validation of two runs
    screenshot_whole(page, "train_compare")


def test_a_trainer_error_reads_as_a_message_not_a_traceback(page, tmp_path):
    wait_for_app_ready(page)
    g = json.loads((TEMPLATES / "lenet5.json").read_text())
    g["name"] = "LeNet-5 for 32x32"
    g["nodes"][0]["params"]["shape"] = [1, 32, 32]  # a valid design, but mnist-sample digits are 28x28
    path = tmp_path / "lenet32.json"
    path.write_text(json.dumps(g))
    page.locator("[data-testid=stSidebar]").get_by_role("button", name="Open…").click()
    page.locator("[data-testid=stPopoverBody] [data-testid=stFileUploaderDropzoneInput]").set_input_files(str(path))
    expect(page.locator("[data-testid=stSidebar]").get_by_role("textbox", name="Design")).to_have_value(g["name"])
    page.keyboard.press("Escape")
    start(page, epochs=1)
    expect(badge(page)).to_contain_text("failed", timeout=120_000)
    alert = page.locator("[data-testid=stAlertContentError]")
    expect(alert).to_contain_text("1×28×28")
    expect(alert).not_to_contain_text("Traceback")
    screenshot_whole(page, "train_failed")
