"""Real-browser harness, following Streamlit's own e2e conventions.

`app_server` starts `streamlit run serve.py --server.headless true` (the app as `make app` serves it) on a free
port with a fresh CONVAS_HOME, waits for /_stcore/health; `page` opens it in Debian's Chromium (Playwright) and waits for [data-testid=stApp].
When CONVAS_REQUIRE_BROWSER=1 (CI sets it) a missing browser fails the suite instead of skipping.
Screenshots go to tests/artifacts/ (look at them).
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("CONVAS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _require_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install playwright)")
    if missing:
        msg = "browser tests need " + " and ".join(missing)
        if os.environ.get("CONVAS_REQUIRE_BROWSER") == "1":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg + " (set CONVAS_REQUIRE_BROWSER=1 to make this a failure)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`entry`: serve.py (the app with the canvas's quick-check route, as `make app` starts it) or app.py (the app
    alone: the canvas is answered by the page's reruns only)."""

    def __init__(self, home: Path, entry: str = "serve.py"):
        self.home = home
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "streamlit.log"
        env = dict(os.environ, CONVAS_HOME=str(home), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / entry), "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.25)  # polling a server that is starting, not waiting on the UI
        raise RuntimeError(f"streamlit did not become healthy:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    # every expect() waits on its condition up to 20 s (Playwright's default, 5 s, is short on a loaded 2-core CI
    # machine, where a page's script run can take seconds); a condition that holds returns at once
    expect.set_options(timeout=20_000)

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """A fresh app per test module (its own CONVAS_HOME, so autosaves and runs don't leak between modules)."""
    _require_browser()
    home = tmp_path_factory.mktemp("convas_home")
    server = AppServer(home)
    yield server
    server.stop()
    if os.environ.get("CONVAS_KEEP_HOME") != "1":
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def person(browser, app_server):
    """One browser per test module: the one person its tests play. The app gives each browser its own workspace
    (a cookie), so the module's tests, like one person's tabs, share one: the server's first, the home workspace,
    whose files are app_server.home/autosave.json and app_server.home/runs. A test that needs another person opens
    another context (tests/browser/test_workspaces.py)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture
def page(person, app_server):
    """A new tab of the module's browser on the app (a new Streamlit session)."""
    from playwright.sync_api import expect

    pg = person.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(app_server.url)
    expect(pg.locator("[data-testid=stApp]")).to_be_visible()
    wait_for_workspace_cookie(pg)  # the module's next tabs open this same workspace
    yield pg
    pg.close()


def wait_for_workspace_cookie(page, timeout_ms: int = 90_000) -> None:
    """Until the browser keeps the workspace id the app gave it (designer.workspace.COOKIE)."""
    page.wait_for_function("() => document.cookie.split('; ').some(c => c.startsWith('convas_ws='))",
                           timeout=timeout_ms)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under tests/artifacts/ (for people to look at)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_app_idle(page) -> None:
    """Wait until Streamlit has finished the current script run (the status widget says 'Running' meanwhile)."""
    from playwright.sync_api import expect

    expect(page.locator("[data-testid=stStatusWidget]")).to_have_count(0, timeout=60_000)


def screenshot_whole(page, name: str) -> Path:
    """Like `screenshot`, but all of a page taller than the window: Streamlit scrolls its main area inside the
    window, so full_page alone stops at the fold. The viewport grows to the content for the shot, then returns."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]')?.scrollHeight ?? 0")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height))})
    try:
        wait_for_app_idle(page)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return path


def open_page(page, title: str) -> None:
    """Go to a page through the sidebar navigation and wait for its script run to end."""
    from playwright.sync_api import expect

    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible()
    wait_for_app_idle(page)


def wait_for_app_ready(page, timeout_ms: int = 90_000) -> None:
    """Wait until the app's own navigation is drawn and its script run has ended. The first run of a fresh server
    imports torch (seconds on a busy machine); until app.py reaches st.navigation, Streamlit shows its legacy
    pages/ listing, so 'the app has loaded' means 'the Design link is there'."""
    from playwright.sync_api import expect

    expect(page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Design", exact=True)) \
        .to_be_visible(timeout=timeout_ms)
    wait_for_app_idle(page)


def open_template(page, title: str) -> None:
    """The sidebar's Open… popover: pick the template by title, press Open template, and wait until the design's
    name says it opened. A rerun landing while the popover opens closes it again, so the whole gesture is retried
    (up to 3 times) until the name field shows the template."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    side = page.locator("[data-testid=stSidebar]")
    name_box = side.get_by_role("textbox", name="Design")
    pick = page.get_by_role("option", name=re.compile(rf"^{re.escape(title)} · [\d,]+ parameters$"))
    for attempt in range(3):
        wait_for_app_idle(page)
        try:
            side.get_by_role("button", name="Open…").click()
            page.get_by_label("A template").click(timeout=5_000)
            pick.click(timeout=5_000)
            page.get_by_role("button", name="Open template").click(timeout=5_000)
            expect(name_box).to_have_value(title, timeout=15_000)
            break
        except (AssertionError, PlaywrightTimeout):
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    page.keyboard.press("Escape")  # close the popover
    wait_for_app_idle(page)
