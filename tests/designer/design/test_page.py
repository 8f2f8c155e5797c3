"""The Design page run headless by Streamlit's AppTest (no browser): what it shows, its buttons and its form.
The canvas itself is driven in a real browser by tests/browser/test_design_*.py."""
import json

import pytest
from streamlit.testing.v1 import AppTest

import engine
from designer.canvas import DIST, JS, bundle_files
from designer.design.form import widget_key
from tests.conftest import ROOT


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVAS_HOME", str(tmp_path))
    return tmp_path


def run_app(home, **state) -> AppTest:
    """The app as a new browser session would get it (the autosave in `home`, if any), with extra session keys."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def canvas_data(at: AppTest) -> dict:
    (el,) = [e for e in at.main if e.type == "bidi_component"]
    assert el.proto.component_name == "convas.canvas"
    assert el.proto.js_source_path == JS and not el.proto.js_content  # package mode: the bundle is served, not inlined
    return json.loads(el.proto.json)


def test_design_page_shows_the_seed_template_checked(home):
    at = run_app(home)
    assert not at.exception
    assert [m.value for m in at.metric][:1] == ["3.27M"]
    data = canvas_data(at)
    assert all(n["shape"] for n in data["nodes"]) and len(data["nodes"]) == 12
    assert any(g["category"] == "Convolution" for g in data["palette"])
    table = at.dataframe[0].value
    assert list(table["node"]) == [n["id"] for n in data["nodes"]] and table["params"].sum() == 3274634
    assert any("All shapes check out" in s.value for s in at.success)


def test_an_error_offers_its_fix_and_the_fix_clears_it(home, template_path):
    g = engine.load_graph(template_path("mnist_cnn")).to_dict()
    g["nodes"] = [n for n in g["nodes"] if n["id"] != "flat"]
    next(n for n in g["nodes"] if n["id"] == "fc1")["inputs"] = ["pool2"]
    engine.save_graph(engine.graph.parse(g)[0], home / "autosave.json")
    at = run_app(home)
    assert any("Linear expects a vector" in e.value for e in at.error)
    data = canvas_data(at)
    fc1 = next(n for n in data["nodes"] if n["id"] == "fc1")
    assert fc1["error"] and fc1["shape"] is None
    fix = next(b for b in at.button if b.label == "Insert Flatten before fc1")
    fix.click().run()
    assert not at.error and at.metric[0].value == "3.27M"
    assert at.session_state.graph_rev == 1  # the canvas redraws from the fixed graph
    saved = engine.load_graph(home / "autosave.json")  # and it is autosaved
    assert engine.check(saved).ok and "flatten_fc1" in saved.ids()


def test_clicking_select_on_an_error_opens_that_node(home, template_path):
    g = engine.load_graph(template_path("mnist_cnn")).to_dict()
    next(n for n in g["nodes"] if n["id"] == "conv2")["params"] = {"out_channels": 64, "kernel_size": 30}
    engine.save_graph(engine.graph.parse(g)[0], home / "autosave.json")
    at = run_app(home)
    nonce = canvas_data(at)["select"]["nonce"]
    next(b for b in at.button if b.key == "err_sel_0").click().run()
    sel = canvas_data(at)["select"]
    assert sel == {"id": "conv2", "nonce": nonce + 1}
    assert at.text_input(key=f"rename_{at.session_state.graph_rev}_conv2").value == "conv2"


def key(at: AppTest, node_id: str, name: str) -> str:
    node = next(n for n in at.session_state.graph["nodes"] if n["id"] == node_id)
    return widget_key(at.session_state.graph_rev, node, name)


def test_the_properties_form_edits_a_parameter_live(home):
    at = run_app(home, design_selected="conv1")
    rev = at.session_state.graph_rev
    at.text_input(key=key(at, "conv1", "kernel_size")).set_value("3").run()
    data = canvas_data(at)
    conv1 = next(n for n in data["nodes"] if n["id"] == "conv1")
    assert "kernel_size" not in conv1["params"] and conv1["n_params"] == 32 * 9 + 32  # 3 is the default: left out
    assert data["rev"] == rev + 1 and data["can_undo"]
    at.number_input(key=key(at, "conv1", "out_channels")).set_value(8).run()
    conv1 = next(n for n in canvas_data(at)["nodes"] if n["id"] == "conv1")
    assert conv1["shape"] == "8×28×28"


def test_a_bad_value_in_the_form_is_explained(home):
    at = run_app(home, design_selected="conv1")
    at.text_input(key=key(at, "conv1", "kernel_size")).set_value("five").run()
    assert any("kernel_size must be a number. Received: kernel_size='five'." in w.value for w in at.warning)


def test_bundle_is_built():
    for f in bundle_files():
        assert f.exists() and f.stat().st_size > 1000, f"{f} missing: cd designer/canvas/frontend && npm ci && npm run build"
    assert sorted(p.name for p in DIST.iterdir()) == ["canvas.css", "canvas.js"]  # each glob names one file
    assert (DIST / JS).read_text(encoding="utf-8").rstrip().endswith("as default};")


@pytest.fixture
def checks(monkeypatch) -> list:
    """Every design engine.check sees during the app's runs (the public name and the module's, so a caller that
    imports it either way is counted)."""
    seen = []
    real = engine.shapes.check

    def counting(source):
        seen.append(source)
        return real(source)

    monkeypatch.setattr(engine, "check", counting)
    monkeypatch.setattr(engine.shapes, "check", counting)
    return seen


def test_each_revision_of_the_design_is_checked_once(home, checks):
    """The sidebar, the page, the canvas data and the autosave share one check per revision of the design."""
    at = run_app(home, design_selected="conv1")
    assert not at.exception and len(checks) == 1
    assert any("12 nodes · 3,274,634 parameters" in c.value for c in at.sidebar.caption)
    assert at.dataframe[0].value["params"].sum() == 3_274_634
    at.number_input(key="design_batch").set_value(128).run()  # a rerun that leaves the design as it was
    assert len(checks) == 1
    at.text_input(key=key(at, "conv1", "kernel_size")).set_value("3").run()  # an edit: one fresh check
    assert len(checks) == 2 and "kernel_size" not in checks[-1].node("conv1").params  # 3 is the default
    conv1 = next(n for n in canvas_data(at)["nodes"] if n["id"] == "conv1")
    assert conv1["n_params"] == 32 * 9 + 32 and at.dataframe[0].value["params"].sum() == 3_274_634 - 32 * 16
    assert "kernel_size" not in engine.load_graph(home / "autosave.json").node("conv1").params  # autosaved


def test_the_fixes_use_the_pages_check(home, template_path, checks):
    """Offering fixes for an error does not check the design a second time."""
    g = engine.load_graph(template_path("mnist_cnn")).to_dict()
    g["nodes"] = [n for n in g["nodes"] if n["id"] != "flat"]
    next(n for n in g["nodes"] if n["id"] == "fc1")["inputs"] = ["pool2"]
    engine.save_graph(engine.graph.parse(g)[0], home / "autosave.json")
    at = run_app(home)
    assert any(b.label == "Insert Flatten before fc1" for b in at.button)
    design = at.session_state.graph
    same = [c for c in checks if (c.to_dict() if isinstance(c, engine.Graph) else c) == design]
    assert len(same) == 1  # the design itself once, shared with the fixes (which check their own trial graphs)
