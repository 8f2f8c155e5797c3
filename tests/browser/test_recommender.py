"""The RBM recommender in a real browser: open the template, train it on the bundled MovieLens sample with the
seed's settings (fewer epochs), see its curves and the evaluation table beside the baselines, then a user's
recommendations with movie titles on Inspect."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from engine.train import runs as R
from engine.train.rundir import RunDir
from tests.browser.conftest import open_page, open_template, screenshot_whole, wait_for_app_idle, wait_for_app_ready

TITLE = re.compile(r"\(\d{4}\)")  # MovieLens titles end with their year


@pytest.fixture(scope="module", autouse=True)
def stop_runs_at_the_end(app_server):
    yield
    for r in R.list_runs(app_server.home / "runs"):
        R.stop_run(r["path"])
    deadline = time.monotonic() + 60
    while any(RunDir(r["path"]).is_alive() for r in R.list_runs(app_server.home / "runs")) \
            and time.monotonic() < deadline:
        time.sleep(0.5)  # waiting for trainer processes to exit, not for the UI


def test_train_the_rbm_template_and_see_recommendations_with_titles(page):
    wait_for_app_ready(page)
    open_template(page, "RBM recommender (MovieLens)")
    open_page(page, "Train")
    expect(page.get_by_role("button", name="Start training")).to_be_visible()
    # the seed's settings are the form's defaults for this design
    expect(page.get_by_role("spinbutton", name="Learning rate")).to_have_value("1")
    expect(page.get_by_role("spinbutton", name="Batch size")).to_have_value("100")
    box = page.get_by_role("spinbutton", name="Epochs")
    expect(box).to_have_value("15")
    box.fill("4")
    box.press("Tab")
    page.get_by_role("button", name="Start training").click()
    expect(page.locator(".st-key-run_state .stMarkdownBadge")).to_contain_text("finished", timeout=240_000)
    wait_for_app_idle(page)
    expect(page.get_by_role("heading", name="Results")).to_be_visible()
    table = page.locator(".st-key-rec_table")
    for row in ("RBM", "movie mean", "global mean", "most popular"):
        expect(table).to_contain_text(row)
    expect(table).to_contain_text("NDCG@10")
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .some(g => (g.layout?.title?.text ?? '').includes('Free-energy gap') && g.data[0].x.length >= 4)""",
                           timeout=60_000)
    screenshot_whole(page, "recommender_train")

    # the first visit to Inspect imports its libraries (Captum, ...): longer than open_page's wait on a busy machine
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Inspect").click()
    expect(page.get_by_role("heading", name="Inspect", exact=True).first).to_be_visible(timeout=90_000)
    wait_for_app_idle(page)
    top = page.locator(".st-key-rec_top")
    expect(top).to_contain_text("title", timeout=60_000)
    expect(top.locator("tbody tr")).to_have_count(10)
    expect(top.locator("tbody tr").first).to_contain_text(TITLE)
    expect(page.get_by_text(re.compile(r"What user \d+ rated"))).to_be_visible()
    screenshot_whole(page, "recommender_inspect")  # the whole page in view: the heatmap below the fold is drawn
    expect(page.locator("[data-testid=stPlotlyChart]")).to_have_count(1)  # the weight heatmap
    expect(page.locator("[data-testid=stPlotlyChart] .heatmaplayer")).to_have_count(1, timeout=60_000)
    screenshot_whole(page, "recommender_inspect")
