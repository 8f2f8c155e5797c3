"""The app frame: it opens on the seed template with every page reachable; the sidebar renames, creates, opens
(templates and graph files, refusing bad ones with the engine's message) and saves designs; material icons, no
Deploy button."""
import json

from playwright.sync_api import expect

import engine
from tests.browser.conftest import open_page, screenshot, screenshot_whole, wait_for_app_idle, wait_for_app_ready
from tests.conftest import TEMPLATES


def sidebar(page):
    return page.locator("[data-testid=stSidebar]")


def design_name(page):
    return sidebar(page).get_by_role("textbox", name="Design")


def open_menu(page):
    sidebar(page).get_by_role("button", name="Open…").click()
    return page.locator("[data-testid=stPopoverBody]")


def test_app_opens_on_seed_template_and_pages_navigate(page):
    wait_for_app_ready(page)
    expect(design_name(page)).to_have_value("MNIST CNN (TensorFlow tutorial)")
    expect(sidebar(page)).to_contain_text("3,274,634 parameters")
    expect(sidebar(page)).to_contain_text("Device: CPU")
    nav = page.locator("[data-testid=stSidebarNav]")
    expect(nav.locator("[data-testid=stIconMaterial]")).to_have_count(5)  # icons from a font, not emoji
    expect(page.locator("[data-testid=stAppDeployButton]")).to_have_count(0)
    for title in ("Train", "Inspect", "Export", "Diff", "Design"):
        open_page(page, title)
        expect(page.locator("[data-testid=stException]")).to_have_count(0)
        screenshot_whole(page, f"page_{title.lower()}")
    screenshot(page, "app_frame")


def test_rename_new_open_template_and_save(page):
    wait_for_app_ready(page)
    design_name(page).fill("My digits net")
    design_name(page).press("Enter")
    wait_for_app_idle(page)
    open_page(page, "Train")
    expect(page.get_by_text("My digits net").first).to_be_visible()  # the page reads the renamed design
    with page.expect_download() as dl:
        sidebar(page).get_by_role("button", name="Save (download)").click()
    saved = engine.load_graph(dl.value.path())
    assert saved.name == "My digits net" and len(saved.nodes) == 12

    sidebar(page).get_by_role("button", name="New design").click()
    page.locator("[data-testid=stPopoverBody]").get_by_role("button", name="Starter: Input → Flatten → Linear").click()
    wait_for_app_idle(page)
    page.keyboard.press("Escape")  # the popover stays open after the rerun; close it
    expect(design_name(page)).to_have_value("Untitled design")
    expect(sidebar(page)).to_contain_text("3 nodes · 7,850 parameters")

    menu = open_menu(page)
    menu.get_by_role("combobox").click()
    page.get_by_role("option", name="LeNet-5").click()
    menu.get_by_role("button", name="Open template").click()
    wait_for_app_idle(page)
    expect(design_name(page)).to_have_value("LeNet-5")
    index = json.loads((TEMPLATES / "index.json").read_text())
    expect(sidebar(page)).to_contain_text(f"{index['lenet5']['params']:,} parameters")


def test_open_graph_file_and_refuse_a_bad_one(page, tmp_path):
    wait_for_app_ready(page)
    expect(design_name(page)).not_to_have_value("")
    before = design_name(page).input_value()  # the autosaved design of this app's earlier sessions
    bad = tmp_path / "bad.json"
    g = json.loads((TEMPLATES / "lenet5.json").read_text())
    g["nodes"][1]["op"] = "Conv2D"
    bad.write_text(json.dumps(g))
    menu = open_menu(page)
    menu.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(bad))
    expect(menu.locator("[data-testid=stAlertContentError]")).to_contain_text("unknown op 'Conv2D'")
    expect(menu.locator("[data-testid=stAlertContentError]")).to_contain_text("Did you mean 'Conv2d'?")
    expect(design_name(page)).to_have_value(before)  # nothing changed
    screenshot(page, "open_refused")

    good = tmp_path / "mine.json"
    g["nodes"][1]["op"] = "Conv2d"
    g["name"] = "Uploaded LeNet"
    good.write_text(json.dumps(g))
    menu.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(good))
    expect(design_name(page)).to_have_value("Uploaded LeNet")
