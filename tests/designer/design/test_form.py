"""The properties form: which widget each parameter gets, and text <-> value for the text fields."""
import pytest

from designer.design.form import parse_text, to_text, widget_for
from engine.catalog import catalog_dict
from engine.catalog.registry import Param, coerce

ALL_PARAMS = [(op, p) for op, spec in catalog_dict().items() for p in spec["params"]]


@pytest.mark.parametrize("op,prm", ALL_PARAMS, ids=[f"{o}.{p['name']}" for o, p in ALL_PARAMS])
def test_every_catalog_default_round_trips_through_its_widget(op, prm):
    kind = widget_for(prm)
    assert kind in ("number", "float", "toggle", "select", "node", "text")
    if kind != "text":
        return
    value = prm["default"]
    back = parse_text(prm, to_text(value))
    spec = Param(prm["name"], prm["type"], prm["default"], prm["help"], prm["min"], prm["max"],
                 tuple(prm["choices"]) if "choices" in prm else None, prm["optional"])
    assert coerce(spec, back) == coerce(spec, value)  # the engine reads the same value back


def _p(type_, optional=False):
    return {"name": "k", "type": type_, "optional": optional, "default": None, "min": None, "max": None}


@pytest.mark.parametrize("type_,text,value", [
    ("pair", "5", 5), ("pair", "3, 5", [3, 5]), ("pair", "[3,5]", [3, 5]), ("pair", " 7 ", 7),
    ("padding", "same", "same"), ("padding", "valid", "valid"), ("padding", "2", 2), ("padding", "1, 2", [1, 2]),
    ("shape", "1, 28, 28", [1, 28, 28]), ("shape", "-1", [-1]), ("shape", "3 32 32", [3, 32, 32]),
    ("str", " hi ", "hi"), ("int", "4", 4), ("float", "0.25", 0.25), ("float", "1e-3", 0.001),
])
def test_parse_text(type_, text, value):
    assert parse_text(_p(type_), text) == value


@pytest.mark.parametrize("type_,text,match", [
    ("pair", "abc", "must be a number"), ("pair", "1, 2, 3", "one number or two"), ("pair", "2.5", "whole number"),
    ("int", "", "needs a value"), ("int", "1 2", "one number"),
])
def test_parse_text_explains_what_is_wrong(type_, text, match):
    with pytest.raises(ValueError, match=match) as e:
        parse_text(_p(type_), text)
    assert "Received: k=" in str(e.value)


def test_empty_optional_is_none_and_to_text():
    assert parse_text(_p("pair", optional=True), "  ") is None
    assert to_text(None) == "" and to_text([3, 5]) == "3, 5" and to_text("same") == "same"


def test_widget_kinds():
    assert widget_for(_p("int")) == "number" and widget_for(_p("int", optional=True)) == "text"
    assert widget_for(_p("bool")) == "toggle" and widget_for(_p("choice")) == "select"
    assert widget_for(_p("node")) == "node" and widget_for(_p("padding")) == "text"
