"""Many people, one server, in real browsers: each browser (a Playwright context: its own cookies) keeps its own
design across reloads, a newcomer starts from the default template, runs are listed only in the workspace that made
them, a share link opens a copy, and with one training slot a second person's run waits in the queue with its
position and can be stopped there."""
from __future__ import annotations

import os
import re
import shutil

import pytest
from playwright.sync_api import expect

from engine.train import runs as R
from engine.train.rundir import RunDir
from engine.workspace import Workspaces
from tests.browser.conftest import (
    AppServer,
    _require_browser,
    open_page,
    open_template,
    screenshot_whole,
    wait_for_app_idle,
    wait_for_app_ready,
    wait_for_workspace_cookie,
)
from tests.browser.test_train_page import badge, start
from tests.conftest import TEMPLATES

DEFAULT_NAME = "MNIST CNN (TensorFlow tutorial)"


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """An app that trains one run at a time (CONVAS_MAX_TRAININGS=1), so a second run has to queue."""
    _require_browser()
    home = tmp_path_factory.mktemp("convas_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONVAS_MAX_TRAININGS", "1")
        server = AppServer(home)
    yield server
    server.stop()
    for ws in Workspaces(home).summary():  # trainers outlive the app by design: stop the ones started here
        for r in R.list_runs(Workspaces(home).get(ws["id"]).runs):
            R.stop_run(r["path"])
    if os.environ.get("CONVAS_KEEP_HOME") != "1":
        shutil.rmtree(home, ignore_errors=True)


class Person:
    """Someone with their own browser (a context: its own cookies) on the app."""

    def __init__(self, browser, app_server, url: str | None = None):
        self.server = app_server
        self.ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.ctx.new_page()
        self.page.set_default_timeout(30_000)
        self.page.goto(url or app_server.url)
        wait_for_app_ready(self.page)
        wait_for_workspace_cookie(self.page)

    @property
    def workspace(self):
        (wid,) = [c["value"] for c in self.ctx.cookies() if c["name"] == "convas_ws"]
        return Workspaces(self.server.home).get(wid)

    def design_name(self):
        return self.page.locator("[data-testid=stSidebar]").get_by_role("textbox", name="Design")

    def reload(self) -> None:
        self.page.reload()
        wait_for_app_ready(self.page)

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture
def people(browser, app_server):
    made: list[Person] = []

    def new(url: str | None = None) -> Person:
        made.append(Person(browser, app_server, url))
        return made[-1]

    yield new
    for p in made:
        p.close()


def test_two_browsers_keep_their_designs_across_reloads_and_a_third_starts_from_the_default(people):
    a, b = people(), people()
    assert a.workspace.id != b.workspace.id
    open_template(a.page, "LeNet-5")
    open_template(b.page, "Three-conv RMSProp CNN")
    a.reload()
    b.reload()
    expect(a.design_name()).to_have_value("LeNet-5")
    expect(b.design_name()).to_have_value("Three-conv RMSProp CNN")
    c = people()
    expect(c.design_name()).to_have_value(DEFAULT_NAME)  # never someone else's design
    a.reload()  # and the newcomer changed nothing for the others
    expect(a.design_name()).to_have_value("LeNet-5")
    assert len({a.workspace.id, b.workspace.id, c.workspace.id}) == 3
    screenshot_whole(b.page, "workspaces_second_browser")


def test_a_second_tab_of_one_browser_opens_the_same_workspace(people):
    a = people()
    open_template(a.page, "LeNet-5")
    tab = a.ctx.new_page()
    tab.goto(a.server.url)
    wait_for_app_ready(tab)
    expect(tab.locator("[data-testid=stSidebar]").get_by_role("textbox", name="Design")).to_have_value("LeNet-5")


def test_runs_are_listed_only_in_their_own_workspace(people):
    a, b = people(), people()
    R.prepare_run(TEMPLATES / "lenet5.json", {"data": "mnist-sample", "epochs": 1}, a.workspace.runs,
                  "Private run of A")
    open_page(a.page, "Train")
    expect(a.page.get_by_role("combobox", name="Run")).to_have_value(re.compile(r"^Private run of A · "))
    open_page(b.page, "Train")
    expect(b.page.get_by_text("No runs yet")).to_be_visible()
    expect(b.page.locator("[data-testid=stMain]")).not_to_contain_text("Private run of A")


def test_a_share_link_opens_a_copy_of_the_design(people):
    a = people()
    open_template(a.page, "LeNet-5")
    side = a.page.locator("[data-testid=stSidebar]")
    side.get_by_role("button", name="Share…").click()
    a.page.get_by_role("button", name="Create a share link").click()
    code = a.page.locator("[data-testid=stPopoverBody] [data-testid=stCode]")
    expect(code).to_contain_text("?share=")
    link = code.inner_text().strip()
    a.page.keyboard.press("Escape")

    c = people(link)
    expect(c.design_name()).to_have_value("LeNet-5")
    assert "share=" not in c.page.url  # a reload does not open it again
    c.design_name().fill("C's own LeNet")
    c.design_name().press("Enter")
    wait_for_app_idle(c.page)
    a.reload()
    expect(a.design_name()).to_have_value("LeNet-5")  # a copy: the sharer's design is untouched
    c.reload()
    expect(c.design_name()).to_have_value("C's own LeNet")

    d = people(a.server.url + "/?share=" + "0" * 32)  # an unknown token: a message, and the default design
    expect(d.page.get_by_text(re.compile("share link was not opened"))).to_be_visible()
    expect(d.design_name()).to_have_value(DEFAULT_NAME)


def test_with_one_slot_a_second_run_queues_with_its_position_and_stops_there(people):
    a, b = people(), people()
    open_template(a.page, "LeNet-5")
    start(a.page, epochs=5, batch_size=4)
    expect(badge(a.page)).to_contain_text("running", timeout=90_000)
    open_template(b.page, "LeNet-5")
    start(b.page, epochs=1)
    expect(badge(b.page)).to_contain_text("queued")
    expect(b.page.locator(".st-key-run_state")).to_contain_text("Position 1 of 1 in the queue")
    screenshot_whole(b.page, "workspaces_queued")
    (b_run,) = R.list_runs(b.workspace.runs)
    assert RunDir(b_run["path"]).status().get("pid") is None  # no trainer process while it waits
    b.page.locator(".st-key-run_buttons").get_by_role("button", name="Stop").click()
    expect(badge(b.page)).to_contain_text("stopped", timeout=30_000)
    expect(b.page.get_by_text("stopped while queued")).to_be_visible()
    a.page.locator(".st-key-run_buttons").get_by_role("button", name="Stop").click()
    expect(badge(a.page)).to_contain_text("stopped", timeout=60_000)
    assert RunDir(b_run["path"]).status()["state"] == "stopped"


def test_a_shared_run_opens_read_only_and_its_design_can_be_copied(people, app_server):
    from engine.train import trainer

    a = people()
    run = R.prepare_run(TEMPLATES / "lenet5.json", {"data": "mnist-sample", "epochs": 1, "max_steps": 4,
                                                    "log_every": 1}, a.workspace.runs, "Shared LeNet")
    trainer.resume(run)
    token = Workspaces(app_server.home).share_run(a.workspace, run.name)

    b = people(f"{app_server.url}/shared_run?share={token}")
    expect(b.page.get_by_role("heading", name="Shared run: Shared LeNet")).to_be_visible()
    expect(b.page.locator(".stMarkdownBadge")).to_contain_text("finished")
    expect(b.page.get_by_role("button", name="Stop")).to_have_count(0)
    expect(b.page.get_by_role("button", name="Resume")).to_have_count(0)
    expect(b.page.locator("[data-testid=stMain]")).not_to_contain_text(a.workspace.id)  # no path, no id
    screenshot_whole(b.page, "workspaces_shared_run")
    b.page.get_by_role("button", name="Open a copy of its design").click()
    expect(b.design_name()).to_have_value("LeNet-5")
    assert R.list_runs(b.workspace.runs) == []  # the run stays where it is
