"""One verdict for the badge, the panel and the sidebar: an empty or unfinished design does not "check out"."""
import engine
from engine.starters import new_design
from engine.verdict import OK_TEXT, verdict
from tests.conftest import TEMPLATES


def test_an_empty_design_has_problems_though_no_node_is_red():
    r = engine.check(new_design("empty"))
    v = verdict(r)
    assert v == {"ok": False, "problems": 2, "nodes_in_error": 0, "text": "2 problems"}
    assert v["problems"] == len(r.errors)  # the panel lists exactly these


def test_an_unfinished_design_counts_its_missing_output():
    g = new_design("empty")
    g["nodes"] = [{"id": "input", "op": "Input", "params": {"shape": [1, 28, 28]}}]
    assert verdict(engine.check(g))["text"] == "1 problem"


def test_node_errors_and_a_design_that_checks_out():
    g = new_design("starter")
    assert verdict(engine.check(g)) == {"ok": True, "problems": 0, "nodes_in_error": 0, "text": OK_TEXT}
    g["nodes"][2]["inputs"] = ["input"]  # Linear fed the image: one red node
    g["nodes"].pop(1)
    v = verdict(engine.check(g))
    assert not v["ok"] and v["nodes_in_error"] == 1 and v["text"] == "1 problem"
    assert verdict(engine.check(TEMPLATES / "resnet18.json"))["ok"]
