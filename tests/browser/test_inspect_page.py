"""The Inspect page in a real browser: with no run it points to the Train page; with a (tiny) trained run every
tab renders its pictures and numbers, the long methods run from their buttons, and a drawn digit is predicted."""
from __future__ import annotations

import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from engine.train.rundir import RunDir
from engine.train.runs import new_run_dir
from engine.train.trainer import TrainConfig, train
from tests.browser.conftest import open_page, screenshot_whole, wait_for_app_idle, wait_for_app_ready
from tests.conftest import TEMPLATES

LONG = 600_000  # ms: ascent and inversion on a busy 2-core machine
# the model input drawn on the page is the whole stroke, centred like MNIST: tall (>= 15 rows) and thin (<= 8 columns)
WHOLE_STROKE = """() => {
  const g = [...document.querySelectorAll('.js-plotly-plot')]
    .find(g => (g.layout?.title?.text ?? '').includes('your drawing'));
  const zz = g?._fullData?.[0]?.z;  // plotly's decoded rows (data[0].z is the base64 array plotly.py sends)
  if (!zz) return false;
  const z = Array.from(zz, r => Array.from(r));
  const rows = z.filter(r => r.some(v => v > 0.3)).length;
  const cols = z[0].map((_, j) => z.some(r => r[j] > 0.3)).filter(Boolean).length;
  return rows >= 15 && cols <= 8;
}"""


def plots_drawn(page) -> int:
    return page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                         ".filter(g => (g.data ?? []).length > 0 && g.offsetParent !== null).length")


def show_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_for_app_idle(page)


def set_slider_to_min(page, key: str) -> None:
    slider = page.locator(f".st-key-{key}").get_by_role("slider")
    slider.focus()
    slider.press("Home")
    wait_for_app_idle(page)


@pytest.fixture(scope="module")
def trained_run(app_server):
    """A seed-CNN run trained for a few steps on the bundled MNIST sample, in the app's runs root."""
    run_dir = new_run_dir(app_server.home / "runs", "MNIST CNN")
    train(TEMPLATES / "mnist_cnn.json", TrainConfig(data="mnist-sample", epochs=1, max_steps=30, seed=0), run_dir)
    status = RunDir(run_dir).status()
    assert status["state"] == "finished", status
    return run_dir


def test_without_runs_the_page_links_to_train(page):
    wait_for_app_ready(page)
    open_page(page, "Inspect")
    expect(page.get_by_text("No finished run yet")).to_be_visible()
    expect(page.get_by_role("link", name="Go to the Train page")).to_be_visible()
    screenshot_whole(page, "inspect_no_run")


def test_every_tab_renders_on_a_trained_run(page, trained_run):
    wait_for_app_ready(page)
    open_page(page, "Inspect")
    expect(page.get_by_text("Prediction:").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("test image #0").first).to_be_visible()

    show_tab(page, "Filters")
    expect(page.get_by_text("conv1: 32 filters")).to_be_visible()
    assert plots_drawn(page) >= 3  # input, prediction, filters
    screenshot_whole(page, "inspect_filters")

    show_tab(page, "Activations")
    expect(page.get_by_text("relu1: output 32×28×28")).to_be_visible()
    expect(page.get_by_text("of the values are exactly 0")).to_be_visible()
    screenshot_whole(page, "inspect_activations")

    show_tab(page, "Saliency")
    expect(page.get_by_text("Deletion AUC")).to_have_count(3, timeout=LONG)  # Saliency, Grad-CAM, Guided Backprop
    expect(page.get_by_text("Insertion AUC")).to_have_count(3)
    expect(page.get_by_text("known to fail the model-randomisation sanity check").first).to_be_visible()
    page.get_by_role("button", name=re.compile("Run the faithfulness lab")).click()
    expect(page.get_by_text(re.compile(r"^(Saliency|Grad-CAM|Guided Backprop): deletion .* model randomisation")))\
        .to_have_count(3, timeout=LONG)  # one verdict line per method
    expect(page.get_by_text("Cascading randomisation: layers re-initialised from the output down")).to_be_visible()
    expect(page.get_by_role("button", name="Train on shuffled labels")).to_be_visible()
    wait_for_app_idle(page)
    screenshot_whole(page, "inspect_saliency")

    show_tab(page, "Gradient ascent")
    page.get_by_text("Optimisation settings").filter(visible=True).click()
    set_slider_to_min(page, "asc_steps_class")
    page.get_by_role("button", name="Run class visualisation").click()
    expect(page.get_by_text(re.compile(r"softmax \d"))).to_have_count(10, timeout=LONG)
    page.get_by_text("a channel").click()
    wait_for_app_idle(page)
    page.get_by_role("button", name="Run channel visualisation").click()
    expect(page.get_by_text("top test images").first).to_be_visible(timeout=LONG)
    expect(page.get_by_text(re.compile(r"activation \d")).first).to_be_visible()
    wait_for_app_idle(page)
    screenshot_whole(page, "inspect_ascent")

    show_tab(page, "Inversion")
    page.get_by_text("Optimisation settings").filter(visible=True).click()
    set_slider_to_min(page, "inv_steps")
    page.get_by_role("button", name="Invert").click()
    expect(page.get_by_text(re.compile(r"feature error \d"))).to_have_count(4, timeout=LONG)
    expect(page.get_by_text("PSNR").first).to_be_visible()
    wait_for_app_idle(page)
    screenshot_whole(page, "inspect_inversion")


def test_a_drawn_digit_and_an_upload_are_predicted(page, trained_run, tmp_path):
    wait_for_app_ready(page)
    open_page(page, "Inspect")
    page.locator(".st-key-inspect_source").get_by_text("Draw", exact=True).click()
    wait_for_app_idle(page)
    pad = page.locator("canvas[aria-label='drawing pad']")
    expect(pad).to_be_visible()
    expect(page.get_by_text("the prediction follows the pen")).to_be_visible()
    box = pad.bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.15
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 11):  # a vertical stroke: a "1"
        page.mouse.move(x0, y0 + i * box["height"] * 0.07)
    page.mouse.up()
    page.wait_for_function(WHOLE_STROKE, timeout=60_000)  # the pad's last message (pen up) reached the model
    wait_for_app_idle(page)
    titles = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(g => g.layout?.title?.text)")
    assert any("Prediction:" in (t or "") for t in titles), titles
    screenshot_whole(page, "inspect_drawing")

    paper = Image.new("L", (60, 60), 255)  # a dark "1" on white paper: the page inverts it to MNIST's look
    paper.paste(0, (27, 8, 33, 52))
    paper.save(tmp_path / "one.png")
    page.locator(".st-key-inspect_source").get_by_text("Upload", exact=True).click()
    wait_for_app_idle(page)
    page.locator(".st-key-inspect_upload input[type=file]").set_input_files(str(tmp_path / "one.png"))
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .some(g => (g.layout?.title?.text ?? '').includes('upload one.png (inverted)'))""", timeout=60_000)
    wait_for_app_idle(page)
    screenshot_whole(page, "inspect_upload")
