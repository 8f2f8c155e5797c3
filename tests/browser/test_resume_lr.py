"""Resume with another learning rate in a real browser: the field beside Resume starts at the run's own lr; a new
value reaches the trainer (the resumed run logs it: constant schedule) and the run's config keeps it."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from engine.train import runs as R
from engine.train.rundir import RunDir
from tests.browser.conftest import open_page, screenshot_whole, wait_for_app_ready
from tests.conftest import TEMPLATES


@pytest.mark.slow  # the resume trains 10 steps in a trainer process
def test_resume_with_a_new_learning_rate_trains_at_it(page, app_server):
    root = app_server.home / "runs"
    g = json.loads((TEMPLATES / "lenet5.json").read_text())
    run = RunDir(R.prepare_run(g, {"data": "mnist-sample", "epochs": 1, "max_steps": 10, "lr": 0.01,
                                   "schedule": "constant", "log_every": 5}, root, name="stopped"))
    run.write_status("stopped", "stopped before training", step=0, total_steps=10, pid=None)  # resumable
    wait_for_app_ready(page)
    open_page(page, "Train")
    box = page.get_by_role("spinbutton", name="Learning rate to continue with")
    expect(box).to_have_value("0.01")  # the run's own
    box.fill("0.005")
    box.press("Tab")
    screenshot_whole(page, "resume_lr_field")
    page.locator(".st-key-run_buttons").get_by_role("button", name="Resume").click()
    expect(page.locator(".st-key-run_state .stMarkdownBadge")).to_contain_text("finished", timeout=240_000)
    assert run.config().lr == 0.005
    assert {r["lr"] for r in run.metrics()[0] if r.get("lr")} == {0.005}
