"""Convas works offline: no page asks for anything outside the app's own server (a favicon from a font CDN, a web
font, an icon set, a script). Every request the browser makes while it opens each page is recorded; any that
leaves localhost fails the test, named. A trained run is there, so Inspect and Export draw their real content."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from engine.train.rundir import RunDir
from engine.train.runs import new_run_dir
from engine.train.trainer import TrainConfig, train
from tests.browser.conftest import screenshot, wait_for_app_idle, wait_for_app_ready
from tests.conftest import TEMPLATES

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension", "devtools"}  # never touch the network


def leaves_localhost(url: str) -> bool:
    u = urlparse(url)
    if u.scheme in LOCAL_SCHEMES:
        return False
    return u.hostname not in LOCAL_HOSTS


def test_leaves_localhost_tells_local_from_remote():
    assert not leaves_localhost("http://127.0.0.1:8501/_stcore/health")
    assert not leaves_localhost("ws://localhost:8501/_stcore/stream")
    assert not leaves_localhost("data:image/png;base64,AAAA")
    assert leaves_localhost("https://fonts.gstatic.com/s/i/short-term/release/materialsymbolsrounded/hub/default/24px.svg")
    assert leaves_localhost("https://cdn.jsdelivr.net/npm/x")


def go_to(page, title: str) -> None:
    """Like conftest.open_page, with room for Inspect's first model load on a busy machine."""
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=title).click()
    drawn = page.locator("[data-testid=cv-root]") if title == "Design" else \
        page.get_by_role("heading", name=title, exact=True).first  # Design's mark: its canvas
    expect(drawn).to_be_visible(timeout=120_000)
    wait_for_app_idle(page)


@pytest.fixture(scope="module")
def trained_run(app_server):
    run_dir = new_run_dir(app_server.home / "runs", "offline check")
    train(TEMPLATES / "mnist_cnn.json", TrainConfig(data="mnist-sample", epochs=1, max_steps=10, seed=0), run_dir)
    assert RunDir(run_dir).status()["state"] == "finished"
    return run_dir


def test_no_page_requests_anything_outside_localhost(browser, app_server, trained_run):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    ctx.on("request", lambda r: requests.append(r.url))  # every frame of every page (the canvas is an iframe)
    failed: list[str] = []
    ctx.on("requestfailed", lambda r: failed.append(r.url))
    page = ctx.new_page()
    page.on("websocket", lambda ws: requests.append(ws.url))
    page.set_default_timeout(30_000)
    try:
        page.goto(app_server.url)
        wait_for_app_ready(page)
        expect(page.locator("[data-testid=cv-root]")).to_be_visible(timeout=60_000)
        for title in ("Train", "Inspect", "Export", "Design"):
            go_to(page, title)
        # the favicon is the app's own file, served by the app (Streamlit's media endpoint)
        href = page.evaluate("() => document.querySelector(\"link[rel*='icon']\")?.href ?? ''")
        screenshot(page, "offline_design")
    finally:
        ctx.close()
    outside = sorted({u for u in requests if leaves_localhost(u)})
    assert outside == [], "requests leaving localhost:\n" + "\n".join(outside)
    assert href and not leaves_localhost(href), href
    assert len({urlparse(u).path for u in requests}) > 10  # the recorder did see the app's own traffic
    assert not [u for u in failed if "icon" in u or "favicon" in u]
