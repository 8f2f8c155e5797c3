"""The Train page's runs table in a real browser: a run ticked for comparison stays ticked when a new run appears
above it (runs are listed newest first), in the charts and in the table itself (the tick moves with its run, so
the next tick adds to it). The runs are written on disk as finished runs; one live run (its trainer a sleeping
process) keeps the table refreshing, as a real training does."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from engine.train import runs as R
from engine.train.rundir import RunDir
from tests.browser.conftest import open_page, screenshot_whole, wait_for_app_idle, wait_for_app_ready
from tests.conftest import TEMPLATES

LOSS_TRACES = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(g => (g.layout?.title?.text ?? '').includes('Loss')).flatMap(g => g.data.map(d => d.name ?? ''))"""


def finished_run(root, name: str) -> RunDir:
    time.sleep(1.05)  # run directories are named by the second
    g = json.loads((TEMPLATES / "lenet5.json").read_text())
    run = RunDir(R.prepare_run(g, {"data": "mnist-sample", "epochs": 1}, root, name=name))
    rows = [{"kind": "step", "step": s, "epoch": s / 10, "train_loss": 2.3 - s / 10} for s in range(1, 10)]
    rows.append({"kind": "epoch", "step": 10, "epoch": 1, "val_loss": 1.5, "val_acc": 0.6})
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run.write_status("finished", "finished", step=10, total_steps=10, best_val_acc=0.6, best_metric="accuracy")
    return run


@pytest.fixture
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield proc
    proc.kill()
    proc.wait()


def loss_traces(page) -> set[str]:
    """The runs on the loss chart, by name: the focused run's and those compared with it."""
    return {n.split(" · ")[0] for n in page.evaluate(LOSS_TRACES)}


def tick_row(page, row: int) -> None:
    """Click the selection checkbox of the table's row `row` (0: the first under the header; rows are 35 px)."""
    grid = page.locator("[data-testid=stDataFrame]").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 * (row + 1.5))


def test_a_ticked_run_stays_ticked_when_a_new_run_appears_above_it(page, app_server, sleeper):
    root = app_server.home / "runs"
    finished_run(root, "alpha")
    finished_run(root, "beta")
    live = RunDir(R.prepare_run(json.loads((TEMPLATES / "lenet5.json").read_text()), {"data": "mnist-sample"},
                                root, name="live"))
    time.sleep(1.05)
    live.write_status("running", "training", pid=sleeper.pid, step=0, total_steps=100)

    wait_for_app_ready(page)
    open_page(page, "Train")  # the focus: the live run; the table: live, beta, alpha
    grid = page.locator("[data-testid=stDataFrame]").first
    expect(grid.locator("[role=gridcell]").filter(has_text="alpha")).to_have_count(1)
    tick_row(page, 2)  # alpha
    page.wait_for_function(f"() => ({LOSS_TRACES})().some(n => n.startsWith('alpha'))", timeout=30_000)
    assert loss_traces(page) == {"live", "alpha"}

    finished_run(root, "gamma")  # a new run, listed first: live is now the second row, alpha the fourth
    expect(grid.locator("[role=gridcell]").filter(has_text="gamma")).to_have_count(1, timeout=30_000)
    wait_for_app_idle(page)
    sleeper.kill()  # the live run ends: the table asks for a full redraw, charts included
    sleeper.wait()
    expect(grid.locator("[role=gridcell]").filter(has_text="failed")).to_have_count(1, timeout=30_000)
    wait_for_app_idle(page)
    # nothing live: the page looks at the newest run (gamma), compared with alpha still, not beta (alpha's old row)
    assert loss_traces(page) == {"gamma", "alpha"}

    tick_row(page, 2)  # beta, now third: added to alpha, because the tick on alpha moved with it
    page.wait_for_function(f"() => ({LOSS_TRACES})().some(n => n.startsWith('beta'))", timeout=30_000)
    wait_for_app_idle(page)
    assert loss_traces(page) == {"gamma", "alpha", "beta"}
    screenshot_whole(page, "runs_table_selection")
