"""A language model in a real browser: open a tiny word-level LSTM, train it on the bundled PTB sample, watch
the perplexity curve draw live, then generate text and see the next-word chart on Inspect."""
from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from engine.train import runs as R
from engine.train.rundir import RunDir
from tests.browser.conftest import open_page, screenshot_whole, wait_for_app_idle, wait_for_app_ready
from tests.engine.lm.graphs import lm_graph

PPL_POINTS = """() => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if ((gd.layout?.title?.text ?? '').includes('Perplexity')) {
      const t = (gd.data ?? []).find(d => (d.name ?? '').endsWith('train'));
      return t ? t.x.length : 0;
    }
  }
  return 0;
}"""
RUNNING = """() => (document.querySelector('.st-key-run_state')?.innerText ?? '').includes('running')"""


@pytest.fixture(scope="module", autouse=True)
def stop_runs_at_the_end(app_server):
    yield
    root = app_server.home / "runs"
    for r in R.list_runs(root):
        R.stop_run(r["path"])
    deadline = time.monotonic() + 60
    while any(RunDir(r["path"]).is_alive() for r in R.list_runs(root)) and time.monotonic() < deadline:
        time.sleep(0.5)  # waiting for processes to exit, not for the UI


def set_number(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(str(value))
    box.press("Tab")


def test_train_a_tiny_language_model_then_generate_text(page, tmp_path):
    wait_for_app_ready(page)
    g = lm_graph(V=10_000, T=10, H=16, layers=1)  # the PTB sample's vocabulary: 10,000 words
    g["name"] = "Tiny word LSTM"
    path = tmp_path / "tiny_lm.json"
    path.write_text(json.dumps(g))
    side = page.locator("[data-testid=stSidebar]")
    side.get_by_role("button", name="Open…").click()
    page.locator("[data-testid=stPopoverBody] [data-testid=stFileUploaderDropzoneInput]").set_input_files(str(path))
    expect(side.get_by_role("textbox", name="Design")).to_have_value("Tiny word LSTM")
    page.keyboard.press("Escape")
    wait_for_app_idle(page)

    open_page(page, "Train")
    if not page.get_by_role("button", name="Start training").is_visible():
        page.get_by_text("New run: data and settings").click()
    page.get_by_role("combobox", name="Dataset").click()
    page.get_by_role("option", name="PTB sample (bundled text)").click()
    set_number(page, "Epochs", 1)
    set_number(page, "Batch size", 4)
    page.get_by_text("More", exact=True).click()
    set_number(page, "Stop after N steps (0: all)", 200)  # logged every 10: 20 points of the curve
    page.get_by_role("button", name="Start training").click()
    badge = page.locator(".st-key-run_state .stMarkdownBadge")
    expect(badge).to_contain_text(re.compile("queued|running"), timeout=60_000)
    page.get_by_text("New run: data and settings").click()  # fold the form: the charts come into view
    # live: the perplexity curve has points while the run is still training
    page.wait_for_function(f"() => ({PPL_POINTS})() >= 1 && ({RUNNING})()", timeout=300_000)
    first = page.evaluate(PPL_POINTS)
    expect(page.locator("[data-testid=stMetric]").filter(has=page.get_by_text("Words / s"))).to_be_visible()
    screenshot_whole(page, "lm_train_live")
    # and it keeps drawing as it trains (unless the last steps ran faster than one refresh)
    page.wait_for_function(f"n => ({PPL_POINTS})() > n || !({RUNNING})()", arg=first, timeout=300_000)
    expect(badge).to_contain_text("finished", timeout=300_000)
    expect(page.get_by_role("heading", name="Results")).to_be_visible()
    test_ppl = page.locator("[data-testid=stMetric]").filter(has=page.get_by_text("Test perplexity"))
    expect(test_ppl).to_contain_text(re.compile(r"\d"))
    screenshot_whole(page, "lm_train_finished")

    open_page(page, "Inspect")
    expect(page.get_by_role("tab", name="Generate")).to_be_visible(timeout=60_000)
    page.get_by_role("textbox", name="Prompt").fill("the company said")
    set_number(page, "Words", 12)
    page.get_by_role("button", name="Generate").click()
    out = page.locator(".st-key-lm_generated_text")
    expect(out).to_contain_text("the company said", timeout=60_000)
    words = out.inner_text().split()
    assert len(words) >= 3 + 12 - 2  # the prompt and the sampled words (a generated <eos> becomes a line break)
    screenshot_whole(page, "lm_inspect_generate")
    page.get_by_role("tab", name="Next word").click()
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')].some(g =>
        (g.layout?.title?.text ?? '').includes('most likely next words') && g.data[0].y.length === 10)""",
                           timeout=60_000)
    page.get_by_role("tab", name="Surprise").click()
    expect(page.locator(".lm-surprise span").first).to_be_visible(timeout=60_000)
    screenshot_whole(page, "lm_inspect_surprise")
