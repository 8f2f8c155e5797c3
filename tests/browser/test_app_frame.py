"""The app opens on the seed template with every page reachable."""
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, wait_for_app_idle


def test_app_opens_on_seed_template_and_pages_navigate(page):
    expect(page.get_by_text("MNIST CNN (TensorFlow tutorial)").first).to_be_visible()
    for title in ("Train", "Inspect", "Export", "Design"):
        page.get_by_role("link", name=title).first.click()
        expect(page.get_by_role("heading", name=title).first).to_be_visible()
        wait_for_app_idle(page)
    screenshot(page, "app_frame")
