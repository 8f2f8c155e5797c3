"""A form field's value that arrives after the design changed that field under it (an undo, a redo) is not applied:
the undo stays undone and its redo stays available. The case: text typed into a field, then the canvas's undo
clicked; the field commits its text as it loses focus, and when one rerun carries both, the canvas's command (drawn
first) is handled first. Each widget's callback is called as Streamlit calls it (its key's value in session state,
its args as the form passes them), in that order. A field the design did not change still takes its value, also in
the rerun of another field's edit. (A toggle needs no guard: its only other value is the one the undo restored.)"""
from __future__ import annotations

import pytest

import designer.design.form as form
import designer.design.module_panel as panel
from designer.design.palette import op_spec
from tests.designer.design.test_session import session
from tests.designer.design.test_session_modules import laid, mnist_like
from tests.engine.test_modules import small_design


def prm(op: str, name: str) -> dict:
    return next(p for p in op_spec(op)["params"] if p["name"] == name)


@pytest.fixture
def widgets(monkeypatch):
    """Streamlit's session state as the callbacks read it: widget keys -> their values."""
    def bind(ds):
        monkeypatch.setattr(form.st, "session_state", ds.state)
        monkeypatch.setattr(panel.st, "session_state", ds.state)
        return ds.state
    return bind


def field(ds, state, node: str, name: str, text: str, module: str | None = None, op: str = "Conv2d"):
    """Draw the field as the form does now (its key, the value it shows) and return its callback with `text` typed."""
    p = prm(op, name)
    layer = next(n for n in (ds.graph["modules"][module]["nodes"] if module else ds.graph["nodes"]) if n["id"] == node)
    key = form.widget_key(ds.rev, layer, name) + (f"_in_{module}" if module else "")
    shown = form.shown_value(ds, node, p, module)
    assert shown == (layer.get("params") or {}).get(name, p["default"])  # the value the widget is drawn with

    def send(value: str = text) -> None:
        state[key] = value
        form._on_param(ds, node, p, key, module, shown)
    return send


def kernel(ds, node="conv1"):
    return next(n for n in ds.graph["nodes"] if n["id"] == node)["params"].get("kernel_size")


def test_a_field_drawn_before_an_undo_does_not_redo_it(widgets):
    ds, _ = session(mnist_like())
    state = widgets(ds)
    field(ds, state, "conv1", "kernel_size", "5")()  # typed, Enter: applied
    assert kernel(ds) == 5 and ds.history.can_undo
    after_edit = field(ds, state, "conv1", "kernel_size", "7")  # the field redrawn after the edit (5), 7 typed
    assert ds.undo() and kernel(ds) == 3
    after_edit()  # its text arrives after the undo
    assert kernel(ds) == 3, "a value typed on the design before the undo was applied over the undo"
    assert ds.notice().startswith("kernel_size = '7' was not applied: the design changed under that field")
    assert ds.history.can_redo and ds.redo() and kernel(ds) == 5  # the redo is still there
    assert ds.undo() and kernel(ds) == 3


def test_a_field_drawn_before_a_redo_does_not_undo_it(widgets):
    ds, _ = session(mnist_like())
    state = widgets(ds)
    field(ds, state, "conv1", "kernel_size", "5")()
    assert ds.undo()
    before_redo = field(ds, state, "conv1", "kernel_size", "4")  # drawn after the undo (3), 4 typed
    assert ds.redo() and kernel(ds) == 5
    before_redo()
    assert kernel(ds) == 5 and ds.history.can_undo and not ds.history.can_redo


def test_after_an_undo_the_redrawn_field_takes_a_new_value(widgets):
    ds, _ = session(mnist_like())
    state = widgets(ds)
    field(ds, state, "conv1", "kernel_size", "5")()
    assert ds.undo()
    field(ds, state, "conv1", "kernel_size", "7")()  # the form as drawn after the undo: a new edit
    assert kernel(ds) == 7 and not ds.history.can_redo


def test_two_fields_edited_in_one_rerun_are_both_applied(widgets):
    """The guard is per field: another field's edit handled first in the same rerun does not make this one stale."""
    ds, _ = session(mnist_like())
    state = widgets(ds)
    k = field(ds, state, "conv1", "kernel_size", "5")
    pad = field(ds, state, "conv1", "padding", "2")
    k()
    pad()
    node = next(n for n in ds.graph["nodes"] if n["id"] == "conv1")
    assert node["params"]["kernel_size"] == 5 and node["params"]["padding"] == 2


def test_a_module_layer_field_and_an_instance_argument_drawn_before_an_undo_are_stale(widgets):
    ds, _ = session(laid(small_design()))
    state = widgets(ds)
    layer = field(ds, state, "conv", "kernel_size", "1", module="Unit")
    layer()
    conv = lambda: next(n for n in ds.graph["modules"]["Unit"]["nodes"] if n["id"] == "conv")["params"]  # noqa: E731
    assert conv()["kernel_size"] == 1
    redrawn = field(ds, state, "conv", "kernel_size", "5", module="Unit")  # showing 1, 5 typed
    assert ds.undo() and conv()["kernel_size"] == 3
    redrawn()
    assert conv()["kernel_size"] == 3 and ds.history.can_redo

    u1 = lambda: next(n for n in ds.graph["nodes"] if n["id"] == "u1")["params"]  # noqa: E731
    key = "mod_arg_u1_ch"
    state[key] = "16"
    panel._on_arg(ds, "u1", "ch", key, 8)  # drawn showing 8: applied
    assert u1()["ch"] == 16
    assert ds.undo() and u1()["ch"] == 8
    state[key] = "32"
    panel._on_arg(ds, "u1", "ch", key, 16)  # the field drawn after the edit (16), 32 typed, arriving after the undo
    assert u1()["ch"] == 8 and ds.history.can_redo


def drawn_form(ds, state, node: str, module: str | None = None) -> list:
    """Every field of the node's form as drawn now, each called back with the value it was drawn with (what
    Streamlit does with the fields of a run cut short by the next canvas command)."""
    nodes = ds.graph["modules"][module]["nodes"] if module else ds.graph["nodes"]
    layer = next(n for n in nodes if n["id"] == node)
    calls = []
    for p in op_spec(layer["op"])["params"]:
        key = form.widget_key(ds.rev, layer, p["name"]) + (f"_in_{module}" if module else "")
        shown = form.shown_value(ds, node, p, module)
        kind = form.widget_for(p)
        if kind == "node":
            raw = shown or "—"
        elif kind == "text" or (isinstance(shown, str) and kind != "select"):  # "$ch" in a number field: text
            raw = form.to_text(shown)
        else:
            raw = float(shown) if kind == "float" else shown

        def call(key=key, raw=raw, p=p, shown=shown):
            state[key] = raw
            form._on_param(ds, node, p, key, module, shown)
        calls.append(call)
    return calls


def test_the_fields_of_a_form_cut_short_by_an_undo_called_back_as_drawn_are_no_edit(widgets):
    ds, _ = session(mnist_like())
    state = widgets(ds)
    field(ds, state, "conv1", "kernel_size", "5")()
    cut_short = drawn_form(ds, state, "conv1")  # the form drawn for kernel 5 when the undo's click cut its run short
    assert ds.undo() and kernel(ds) == 3
    graph = ds.graph
    for call in cut_short:  # the undo's run: every field called back with its drawn value, after the undo
        call()
    assert ds.graph is graph and kernel(ds) == 3, "a field's drawn value put back what the undo took away"
    assert ds.history.can_redo and len(ds.history.undo_stack) == 0
    assert ds.notice() is None  # nothing to tell: nothing was typed


def test_a_module_layers_form_called_back_as_drawn_after_an_undo_changes_nothing(widgets):
    """Unit's conv says kernel_size 3 (the default) explicitly: a value equal to the default sent back used to unset
    it, an invisible step that cleared the redo."""
    ds, _ = session(laid(small_design()))
    state = widgets(ds)
    field(ds, state, "conv", "kernel_size", "1", module="Unit")()
    cut_short = drawn_form(ds, state, "conv", module="Unit")
    assert ds.undo()
    graph = ds.graph
    for call in cut_short:
        call()
    assert ds.graph is graph and ds.history.can_redo
    assert next(n for n in ds.graph["modules"]["Unit"]["nodes"] if n["id"] == "conv")["params"]["kernel_size"] == 3
    assert ds.redo()  # and the redo brings the edit back
    assert next(n for n in ds.graph["modules"]["Unit"]["nodes"] if n["id"] == "conv")["params"]["kernel_size"] == 1


def test_an_output_toggle_called_back_as_drawn_after_an_undo_is_no_edit(widgets):
    ds, _ = session(mnist_like())
    state = widgets(ds)
    state["out"] = True
    form._on_output(ds, "conv1", "out", False)  # switched on: an edit
    assert "conv1" in ds.graph["outputs"]
    assert ds.undo() and "conv1" not in ds.graph["outputs"]
    state["out2"] = True
    form._on_output(ds, "conv1", "out2", True)  # the toggle drawn on, called back as drawn after the undo
    assert "conv1" not in ds.graph["outputs"] and ds.history.can_redo


def test_an_instance_argument_and_the_module_name_called_back_as_drawn_are_no_edit(widgets):
    ds, _ = session(laid(small_design()))
    state = widgets(ds)
    state["ch"] = "16"
    panel._on_arg(ds, "u1", "ch", "ch", 8)
    assert ds.undo()
    state["ch2"] = "16"
    panel._on_arg(ds, "u1", "ch", "ch2", 16)  # drawn showing 16 before the undo
    assert next(n for n in ds.graph["nodes"] if n["id"] == "u1")["params"]["ch"] == 8 and ds.history.can_redo
    state["name"] = "Unit"
    panel._on_module_name(ds, "Unit", "name")  # the name it was drawn with
    assert "Unit" in ds.graph["modules"] and ds.history.can_redo
