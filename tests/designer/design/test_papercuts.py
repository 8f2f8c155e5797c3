"""What a new user tripped over on the Design page (issue 14, part 3), run headless by AppTest: New design's two
starts, one verdict for the badge and the panel, partial totals, both fixes of a kernel too large, one batch size
for the Design and Train pages. The canvas side of each is in tests/browser/test_design_papercuts.py."""
import pytest
from streamlit.testing.v1 import AppTest

from engine.starters import new_design
from engine.train.defaults import default_batch_size
from tests.conftest import ROOT
from tests.designer.design.test_page import canvas_data


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVAS_HOME", str(tmp_path))
    return tmp_path


def run_app(home, graph: dict | None = None) -> AppTest:
    """The app in a new session holding `graph` (else the autosaved or seed design). AppTest shows the sidebar of
    a session's first run only (st.navigation), so sidebar checks start a session with the design in it."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if graph is not None:
        at.session_state["graph"], at.session_state["graph_rev"] = graph, 0
    return at.run()


def kernel_40() -> dict:
    """The starter with a 16-filter Conv2d of kernel 40 on its 28×28 input, before the Flatten."""
    return {"format": "convas-graph", "version": 1, "name": "big kernel", "nodes": [
        {"id": "input", "op": "Input", "params": {"shape": [1, 28, 28]}},
        {"id": "conv1", "op": "Conv2d", "params": {"out_channels": 16, "kernel_size": 40}, "inputs": ["input"]},
        {"id": "flat", "op": "Flatten", "inputs": ["conv1"]},
        {"id": "fc", "op": "Linear", "params": {"out_features": 10}, "inputs": ["flat"]}], "outputs": ["fc"]}


def test_new_design_offers_an_empty_canvas_and_the_starter(home):
    at = run_app(home)
    assert [b.label for b in at.sidebar.button if b.key.startswith("new_")] == [
        "Empty", "Starter: Input → Flatten → Linear"]
    at.button(key="new_empty").click().run()
    assert not at.exception and at.session_state.graph["nodes"] == [] and at.session_state.graph_rev == 1
    data = canvas_data(at)
    assert data["nodes"] == [] and data["verdict"]["text"] == "2 problems"
    at = run_app(home)
    at.button(key="new_starter").click().run()
    assert [n["op"] for n in at.session_state.graph["nodes"]] == ["Input", "Flatten", "Linear"]
    assert any(c.value.startswith("3 nodes · 7,850 parameters · ") for c in run_app(home, at.session_state.graph).sidebar.caption)


def test_the_canvas_badge_and_the_panel_say_the_same_on_an_empty_design(home):
    at = run_app(home, new_design("empty"))
    verdict = canvas_data(at)["verdict"]
    assert verdict == {"ok": False, "problems": 2, "nodes_in_error": 0, "text": "2 problems"}
    assert any(m.value == "**2 problems**" for m in at.markdown)  # the panel's heading
    assert len(at.error) == 2 and not at.success  # and its two problems; nothing says "checks out"
    assert any(":red[2 problems]" in c.value for c in at.sidebar.caption)


def test_one_node_in_error_shows_partial_totals_of_what_is_known(home):
    at = run_app(home, kernel_40())
    params, macs, memory = at.metric[:3]
    assert (params.label, params.value) == ("Parameters", "≥ 25.6k")  # conv1's 16·40·40 + 16 weights, at least
    assert macs.value == "≥ 0" and memory.value.startswith("≥ ") and memory.value != "≥ 0 B"
    assert any(c.value.startswith("Partial totals (≥), of what is known: 3 layers without a shape yet")
               for c in at.caption)
    assert any("4 nodes · 25,616 parameters (partial)" in c.value for c in at.sidebar.caption)


def test_a_kernel_too_large_offers_both_fixes_and_the_largest_kernel_keeps_the_layer_small(home):
    at = run_app(home, kernel_40())
    labels = [b.label for b in at.button if b.key and b.key.startswith("err_fix_0_")]
    assert labels == ["Set padding of conv1 to 'same'", "Set kernel_size of conv1 to 28 (the largest that fits)"]
    at.button(key="err_fix_0_1").click().run()
    assert not at.error and at.metric[0].value == "12.7k"  # conv1 12,560 + fc 170, complete: no "≥"
    conv1 = next(n for n in canvas_data(at)["nodes"] if n["id"] == "conv1")
    assert conv1["shape"] == "16×1×1" and conv1["n_params"] == 16 * 28 * 28 + 16
    assert canvas_data(at)["verdict"]["text"] == "All shapes check out"


def test_the_design_and_train_pages_use_one_batch_size(home):
    at = run_app(home)
    default = default_batch_size()  # the Train page's: 128 on a CPU, 512 on a GPU (engine.train.defaults)
    assert at.number_input(key="design_batch").value == default
    at.number_input(key="design_batch").set_value(256).run()
    assert at.session_state.train_config["batch_size"] == 256
    assert at.number_input(key="design_batch").value == 256
    at.switch_page("pages/train.py").run()
    assert not at.exception and at.number_input(key="tf_bs").value == 256
    at.switch_page("pages/design.py").run()
    assert at.number_input(key="design_batch").value == 256
