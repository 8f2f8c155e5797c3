"""The Diff page run headless by Streamlit's AppTest: two designs are diffed (totals, marked read-only canvases,
the list of changes), a change is carried into the current design and undone, and two runs show their curves and
final metrics side by side. The canvases themselves are driven in a real browser by tests/browser/test_diff_page.py."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

import engine
from engine.diff import diff
from engine.train.config import TrainConfig
from engine.train.rundir import RunDir
from engine.train.runs import new_run_dir
from tests.conftest import ROOT, TEMPLATES


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVAS_HOME", str(tmp_path))
    monkeypatch.setenv("CONVAS_RUNS", str(tmp_path / "runs"))
    return tmp_path


def diff_page(**state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    at.switch_page("pages/diff.py").run()
    assert not at.exception, at.exception
    return at


def views(at: AppTest) -> dict[str, dict]:
    out = {}
    for e in at.main:
        if e.type == "bidi_component" and e.proto.component_name == "convas.canvas":
            data = json.loads(e.proto.json)
            out[data["name"]] = data
    return out


def test_the_current_design_against_a_template(home):
    at = diff_page(diff_pick_B="template:lenet5")  # A: the current design (the seed MNIST CNN)
    a = engine.load_graph(TEMPLATES / "mnist_cnn.json").to_dict()
    b = engine.load_graph(TEMPLATES / "lenet5.json").to_dict()
    d = diff(a, b)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Changes"] == str(len(d.changes))
    assert metrics["Δ parameters"] == "−3.21M" and d.d_params == -3_212_928
    v = views(at)
    assert set(v) == {"a", "b"} and v["a"]["view"] == "diff"
    assert [n["id"] for n in v["a"]["nodes"]] == [n["id"] for n in a["nodes"]]
    marks_a, marks_b = d.highlights()
    assert v["a"]["marks"] == marks_a and v["b"]["marks"] == marks_b
    assert v["a"]["marks"]["drop"] == "removed" and v["b"]["marks"]["fc3"] == "added"
    assert next(n for n in v["b"]["nodes"] if n["id"] == "conv1")["shape"] == "6×28×28"
    texts = [m.value for m in at.markdown]
    assert any("**changed** · conv1: out_channels 32 → 6" in t for t in texts)


def test_a_change_is_applied_to_the_current_design_and_undone_on_the_design_page(home):
    at = diff_page(diff_pick_B="template:lenet5")
    before = at.session_state.graph
    n = int(next(m.value for m in at.metric if m.label == "Changes"))
    buttons = [b for b in at.button if b.label == "Apply this change"]
    assert len(buttons) == n
    key = next(b.key for b in buttons if "changed:conv1>conv1" in b.key)
    at.button(key=key).click().run()
    assert not at.exception
    g = at.session_state.graph
    conv1 = next(x for x in g["nodes"] if x["id"] == "conv1")
    assert conv1["params"]["out_channels"] == 6 and g["nodes"][0]["ui"] == before["nodes"][0]["ui"]
    assert int(next(m.value for m in at.metric if m.label == "Changes")) == n - 1
    assert not any("conv1: out_channels" in m.value for m in at.markdown)
    saved = engine.load_graph(home / "autosave.json")  # autosaved like any edit
    assert engine.check(saved).nodes["conv1"].shape == (6, 28, 28)
    assert at.session_state.design_history.can_undo
    at.switch_page("pages/design.py").run()  # the Design page's undo history holds the graph before it
    assert not at.exception
    assert at.session_state["design_history"].undo_stack[-1] == before

    at.switch_page("pages/diff.py").run()
    at.button(key="diff_apply_all").click().run()
    assert not at.exception
    assert diff(at.session_state.graph, engine.load_graph(TEMPLATES / "lenet5.json")).same
    assert any("The designs are the same" in s.value for s in at.success)


def test_apply_is_offered_only_into_the_current_design(home):
    at = diff_page(diff_pick_A="template:lenet5", diff_pick_B="template:mnist_cnn")
    assert not [b for b in at.button if b.label == "Apply this change"]
    assert any("Pick the current design as A" in c.value for c in at.caption)
    at.button(key="diff_swap").click().run()
    assert at.selectbox(key="diff_pick_A").value == "template:mnist_cnn"


def _run(root, name: str, template: str, losses: list[float], accs: list[float]) -> str:
    """A finished run directory as the trainer leaves it (graph, config, status, metrics rows)."""
    d = new_run_dir(root, name)
    rd = RunDir(d)
    rd.write_graph(engine.load_graph(TEMPLATES / f"{template}.json"))
    rd.write_config(TrainConfig(data="mnist-sample", epochs=len(accs)))
    rows = []
    for e, (loss, acc) in enumerate(zip(losses, accs), start=1):
        rows.append({"kind": "step", "step": 10 * e, "epoch": e, "train_loss": loss * 1.1, "train_acc": acc - 0.02})
        rows.append({"kind": "epoch", "step": 10 * e, "epoch": e, "train_loss": loss * 1.1, "val_loss": loss,
                     "val_acc": acc})
    rd.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    rd.write_status("finished", "finished", step=10 * len(accs), total_steps=10 * len(accs),
                    best_val_acc=max(accs))
    return rd.id


def test_two_runs_show_their_curves_and_final_metrics_side_by_side(home):
    runs = home / "runs"
    a = _run(runs, "cnn", "mnist_cnn", [0.9, 0.4], [0.80, 0.91])
    b = _run(runs, "lenet", "lenet5", [1.2, 0.7, 0.5], [0.70, 0.82, 0.86])
    at = diff_page(diff_pick_A=f"run:{a}", diff_pick_B=f"run:{b}")
    figs = [json.loads(e.proto.spec) for e in at.get("plotly_chart")]
    assert [f["layout"]["title"]["text"] for f in figs] == ["Loss", "Accuracy"]
    names = [t["name"] for t in figs[0]["data"]]
    assert any(n.startswith("A: ") for n in names) and any(n.startswith("B: ") for n in names)
    val_b = next(t for t in figs[1]["data"] if t["name"].startswith("B: ") and "validation" in t["name"])
    assert list(val_b["y"]) == [0.70, 0.82, 0.86]
    table = at.dataframe[-1].value
    row = table.set_index("metric").loc["last val_acc"]
    assert (row["A"], row["B"]) == (0.91, 0.86) and row["B − A"] == pytest.approx(-0.05)
    assert table.set_index("metric").loc["steps trained", "B"] == 30
