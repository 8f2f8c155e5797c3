"""The first session of a fresh server that opens a page URL directly still gets the whole app.

With a pages/ folder, Streamlit's legacy multipage mode runs that page file alone on a fresh server; the page sends
the run through app.py (designer.state.require_app), so the session gets app.py's set-up and navigation."""
from playwright.sync_api import expect

from tests.browser.conftest import screenshot


def test_fresh_server_opened_on_train_url_shows_the_app(browser, app_server):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{app_server.url}/train")
    expect(page.locator("[data-testid=stApp]")).to_be_visible()
    # app.py's navigation (titled pages), not the legacy one made from file names, and no exception
    nav = page.locator("[data-testid=stSidebarNav]")
    # the first run on a fresh server imports torch before app.py's navigation replaces the legacy one: wait for it
    expect(nav.get_by_text("Design", exact=True)).to_be_visible(timeout=60_000)
    expect(nav.get_by_text("Inspect", exact=True)).to_be_visible()
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    page.get_by_role("link", name="Train").first.click()
    expect(page.get_by_role("heading", name="Train").first).to_be_visible()
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    screenshot(page, "first_visit_train")
    ctx.close()
