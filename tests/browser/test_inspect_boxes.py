"""The Inspect page with a (tiny, briefly trained) detector: a validation image with the model's boxes, and beside
it the Grad-CAM of one box's class score, which follows the box the user picks."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engine.train.rundir import RunDir
from engine.train.runs import new_run_dir
from engine.train.trainer import TrainConfig, train
from tests.browser.conftest import open_page, screenshot_whole, wait_for_app_idle, wait_for_app_ready
from tests.browser.test_inspect_page import set_slider_to_min
from tests.conftest import TEMPLATES

CAM_TITLE = """(n) => [...document.querySelectorAll('.js-plotly-plot')].some(g =>
  (g.layout?.title?.text ?? '').startsWith(`Grad-CAM of box #${n}`) && (g.data ?? []).some(d => d.type === 'heatmap')
  && (g.layout?.shapes ?? []).length >= 2)"""  # the map, its frame and the box drawn on it


@pytest.fixture(scope="module")
def detector_run(app_server):
    run_dir = new_run_dir(app_server.home / "runs", "Tiny grid detector")
    train(TEMPLATES / "tiny_grid_detector.json", TrainConfig(data="mnist-detect", epochs=1, max_steps=20,
                                                             batch_size=16, seed=0), run_dir)
    status = RunDir(run_dir).status()
    assert status["state"] == "finished", status
    return run_dir


def test_a_detected_boxs_grad_cam_is_shown_beside_it(page, detector_run):
    wait_for_app_ready(page)
    open_page(page, "Inspect")
    expect(page.locator(".st-key-box_inspect_thr")).to_be_visible(timeout=120_000)
    set_slider_to_min(page, "box_inspect_thr")  # 0.05: a briefly trained detector's scores are low
    page.wait_for_function(CAM_TITLE, arg=1, timeout=120_000)
    expect(page.get_by_text("grid cell (row")).to_be_visible()
    page.get_by_text("#2: ").click()
    page.wait_for_function(CAM_TITLE, arg=2, timeout=120_000)
    wait_for_app_idle(page)
    screenshot_whole(page, "inspect_detector_gradcam")
