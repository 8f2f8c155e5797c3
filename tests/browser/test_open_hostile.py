"""The sidebar's Open… in the real app, given hostile graph files: the engine's message is shown (the page never
crashes), and a file whose content names a server file is parsed, not opened."""
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, wait_for_app_ready
from tests.browser.test_app_frame import design_name, open_menu
from tests.conftest import TEMPLATES


def test_hostile_graph_files_get_the_engines_message(page, tmp_path):
    wait_for_app_ready(page)
    expect(design_name(page)).not_to_have_value("")
    before = design_name(page).input_value()
    deep = tmp_path / "deep.json"
    deep.write_text('{"format": "convas-graph", "version": 1, "name": ' + "[" * 500 + "]" * 500 + "}")
    menu = open_menu(page)
    menu.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(deep))
    error = menu.locator("[data-testid=stAlertContentError]")
    expect(error).to_contain_text("deep.json was not opened")
    expect(error).to_contain_text("more than the limit of 32")
    screenshot(page, "open_too_deep")
    path = tmp_path / "path.json"
    path.write_text(str(TEMPLATES / "lenet5.json"))  # a valid graph file on the server: must not be opened
    menu.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(path))
    expect(error).to_contain_text("path.json was not opened")
    expect(error).to_contain_text("not a Convas graph file")
    expect(design_name(page)).to_have_value(before)
