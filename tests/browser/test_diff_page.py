"""The Diff page in a real browser: the current design (the seed MNIST CNN) against the LeNet-5 template; the two
read-only canvases outline what changed; one change is carried into the current design, shows on both the Diff
page and the Design page, and the Design page's undo takes it back."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import open_page, screenshot_whole, wait_for_app_idle


def pick(page, side: int, option: str) -> None:
    page.locator("[data-testid=stSelectbox]").nth(side).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app_idle(page)


def test_two_designs_are_diffed_and_a_change_is_applied_then_undone(page):
    open_page(page, "Diff")
    expect(page.get_by_text("The designs are the same")).to_be_visible()  # B starts on the seed template itself

    pick(page, 1, "Template: LeNet-5")
    a, b = page.locator("[data-testid=cv-view-a]"), page.locator("[data-testid=cv-view-b]")
    expect(a.locator('.react-flow__node.cv-mark-removed [data-testid="cv-node-drop"]')).to_be_visible()
    expect(a.locator('.react-flow__node.cv-mark-changed [data-testid="cv-node-conv1"]')).to_be_visible()
    expect(b.locator('.react-flow__node.cv-mark-added [data-testid="cv-node-fc3"]')).to_be_visible()
    expect(b.locator('[data-testid="cv-shape-conv1"]')).to_have_text("6×28×28")
    expect(a.locator("[data-testid=cv-view-a-changed]")).to_have_text("4 changed")
    screenshot_whole(page, "diff_page")

    row = page.locator("[data-testid=stHorizontalBlock]").filter(has_text="conv1: out_channels 32 → 6")
    row.get_by_role("button", name="Apply this change").click()
    wait_for_app_idle(page)
    expect(page.get_by_text("conv1: out_channels 32 → 6")).to_have_count(0)
    expect(a.locator('[data-testid="cv-shape-conv1"]')).to_have_text("6×28×28")
    expect(a.locator("[data-testid=cv-view-a-changed]")).to_have_text("3 changed")
    expect(a.locator('.react-flow__node.cv-mark-changed [data-testid="cv-node-conv1"]')).to_have_count(0)

    open_page(page, "Design")
    expect(page.locator('[data-testid="cv-shape-conv1"]')).to_have_text("6×28×28")
    page.locator("[data-testid=cv-undo]").click()
    expect(page.locator('[data-testid="cv-shape-conv1"]')).to_have_text("32×28×28")
