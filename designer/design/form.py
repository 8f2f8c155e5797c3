"""The properties form of the selected node, generated from the catalog: one widget per parameter, with the
parameter's type, range and help text; every change is applied at once and checked live.

`widget_for`, `to_text` and `parse_text` are plain functions (tested without a browser); `render_properties`
lays the form out with Streamlit.
"""
from __future__ import annotations

import json
import zlib
from typing import Any

import streamlit as st

from designer.design.palette import op_spec
from designer.design.session import DesignSession
from engine.shapes import Report

TEXT_TYPES = ("pair", "padding", "shape", "str")


def widget_for(prm: dict[str, Any]) -> str:
    """Which widget edits this parameter: number, toggle, select, node or text."""
    t = prm["type"]
    if t == "int" and not prm["optional"]:
        return "number"
    if t == "float" and not prm["optional"]:
        return "float"
    if t == "bool":
        return "toggle"
    if t == "choice":
        return "select"
    if t == "node":
        return "node"
    return "text"


def to_text(v: Any) -> str:
    """A parameter value as the text field shows it: 3 -> '3', [3, 5] -> '3, 5', None -> ''."""
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def _number(prm: dict, s: str) -> int | float:
    try:
        return int(s)
    except ValueError:
        pass
    try:
        x = float(s)
    except ValueError:
        raise ValueError(f"{prm['name']} must be a number. Received: {prm['name']}={s!r}.") from None
    if prm["type"] in ("int", "pair", "padding", "shape"):
        if not x.is_integer():
            raise ValueError(f"{prm['name']} must be a whole number. Received: {prm['name']}={s!r}.")
        return int(x)
    return x


def parse_text(prm: dict[str, Any], text: str) -> Any:
    """Text from the form -> the JSON value the graph file stores; the engine's check judges ranges.
    Raises ValueError with a message naming the parameter when the text cannot be that type at all."""
    s = text.strip()
    t = prm["type"]
    if s == "":
        if prm["optional"]:
            return None
        raise ValueError(f"{prm['name']} needs a value. Received: {prm['name']}=''.")
    if t == "str":
        return s
    if t == "padding" and not s[0].isdigit() and s[0] not in "-[(":
        return s  # 'same', 'valid', 'full'; the check names the allowed words if this is none of them
    parts = [p for p in s.strip("[]()").replace(" ", ",").split(",") if p]
    values = [_number(prm, p) for p in parts]
    if t == "shape":
        return values
    if t in ("pair", "padding"):
        if len(values) == 1:
            return values[0]
        if len(values) == 2:
            return values
        raise ValueError(f"{prm['name']} must be one number or two (height, width). Received: {prm['name']}={s!r}.")
    if len(values) != 1:
        raise ValueError(f"{prm['name']} must be one number. Received: {prm['name']}={s!r}.")
    return values[0]


def widget_key(rev: int, node: dict, name: str) -> str:
    """A widget's key: new when the graph was replaced (rev) or this node's params changed on the canvas (a
    wired reference), so a widget never shows a value the graph no longer holds."""
    digest = zlib.crc32(json.dumps(node.get("params", {}), sort_keys=True, default=str).encode())
    return f"prm_{rev}_{node['id']}_{digest:08x}_{name}"


_GONE = object()  # what shown_value reads for a node that is no longer there: equal to no value a widget shows


def shown_value(ds: DesignSession, node_id: str, prm: dict, module: str | None = None) -> Any:
    """The value the design holds now for this field (the op's default when unset): what a widget drawn now shows.
    A missing node, module or layer reads as a value no widget shows."""
    if module is None:
        nodes = ds.graph["nodes"]
    else:
        d = (ds.graph.get("modules") or {}).get(module)
        nodes = d.get("nodes", []) if isinstance(d, dict) else []
    node = next((n for n in nodes if n.get("id") == node_id), None)
    if node is None:
        return _GONE
    return (node.get("params") or {}).get(prm["name"], prm["default"])


def as_drawn(prm: dict, raw: Any, shown: Any) -> bool:
    """Is the widget's value the one it was drawn with (`shown`, the design's value then)? Then it is no edit.

    Why it matters: when a canvas command (an undo, a redo) reruns the page while the run before it is still drawing
    the page, that run is cut short, and Streamlit, which had not recorded the values of the fields it drew, calls
    each of them back in the next run with the value it was drawn with, after the command changed the design (seen
    in the app's log: all seven Conv2d fields of the cut-short run, right after the undo). Applied, those values put
    back what the undo took away (the undo is undone, or an invisible step clears the redo). A user's edit always
    differs from the value drawn."""
    if isinstance(raw, str):  # a text field, a select's choice, the node picker: the text the field showed
        if widget_for(prm) == "node" and raw == "—":
            return shown in (None, "")
        return raw.strip() == to_text(shown)
    return raw == shown and isinstance(raw, bool) == isinstance(shown, bool)  # a toggle's True is not the number 1


def _on_param(ds: DesignSession, node_id: str, prm: dict, key: str, module: str | None = None,
              shown: Any = None) -> None:
    """A field's on_change (`shown`: the value it was drawn with). A value the field was drawn with is no edit
    (as_drawn). A new value arriving after the design changed that field under it (an undo or redo handled first in
    the same rerun: text typed, then the canvas's undo clicked) is stale: applying it would undo the undo. It is
    dropped with a notice; the form is redrawn from the design as it is now."""
    raw = st.session_state[key]
    if as_drawn(prm, raw, shown):
        return
    if shown_value(ds, node_id, prm, module) != shown:
        st.session_state["design_notice"] = (
            f"{prm['name']} = {str(raw).strip()!r} was not applied: the design changed under that field (an undo or "
            f"redo) before it arrived. The form shows the design now; enter it again to apply it.")
        return
    try:
        if module is not None and isinstance(raw, str) and raw.strip().startswith("$"):
            value = raw.strip()  # a layer inside a module: '$ch' takes each instance's argument
        else:
            value = parse_text(prm, raw) if widget_for(prm) == "text" else raw
    except ValueError as e:
        st.session_state["design_notice"] = str(e)
        return
    if widget_for(prm) == "node" and value == "—":
        value = ""
    if module is not None:  # a layer of a module definition: every instance changes (None unsets the param; so
        # does the op's default, as set_params leaves defaults out: an unchanged value re-sent is then no edit)
        ds.set_inner_params(module, node_id, {prm["name"]: None if value in ("", prm["default"]) else value})
        return
    node = next((n for n in ds.graph["nodes"] if n["id"] == node_id), None)
    if node is None:  # deleted on the canvas in the same rerun that delivered this widget's last value
        return
    params = dict(node.get("params", {}))
    params[prm["name"]] = value
    ds.set_params(node_id, params)


def _on_rename(ds: DesignSession, node_id: str, key: str) -> None:
    if not any(n["id"] == node_id for n in ds.graph["nodes"]):
        return
    try:
        ds.rename(node_id, st.session_state[key])
    except ValueError as e:
        st.session_state["design_notice"] = str(e)


def _on_output(ds: DesignSession, node_id: str, key: str, shown: bool | None = None) -> None:
    if st.session_state[key] == shown:
        return  # the value it was drawn with, called back after an undo cut its run short (as_drawn): no edit
    if any(n["id"] == node_id for n in ds.graph["nodes"]):
        ds.set_output(node_id, st.session_state[key])


def _param_widget(ds: DesignSession, node: dict, prm: dict, rev: int, module: str | None = None) -> None:
    name = prm["name"]
    key = widget_key(rev, node, name) + (f"_in_{module}" if module else "")
    value = node.get("params", {}).get(name, prm["default"])
    rng = ""
    if prm["min"] is not None and prm["max"] is not None and prm["type"] in ("int", "float", "pair", "padding"):
        rng = f" Range {prm['min']:g} to {prm['max']:g}."
    help_text = prm["help"] + rng
    common = dict(key=key, help=help_text, on_change=_on_param, args=(ds, node["id"], prm, key, module, value))
    kind = widget_for(prm)
    if kind in ("number", "float") and isinstance(value, (int, float)) and not isinstance(value, bool):
        in_range = (prm["min"] is None or value >= prm["min"]) and (prm["max"] is None or value <= prm["max"])
        lo = prm["min"] if in_range and prm["min"] is not None else None
        hi = prm["max"] if in_range and prm["max"] is not None else None
        if kind == "number":
            st.number_input(name, value=int(value), step=1, min_value=None if lo is None else int(lo),
                            max_value=None if hi is None else int(hi), **common)
        else:
            st.number_input(name, value=float(value), step=0.05 if (hi or 2) <= 1 else 0.1, format="%g",
                            min_value=None if lo is None else float(lo), max_value=None if hi is None else float(hi),
                            **common)
    elif kind == "toggle" and isinstance(value, bool):
        st.toggle(name, value=value, **common)
    elif kind == "select" and value in (prm.get("choices") or []):
        opts = prm["choices"]
        st.selectbox(name, opts, index=opts.index(value), **common)
    elif kind == "node":
        allowed = set(prm.get("choices") or [])
        pool = ds.graph["nodes"] if module is None else ds.graph["modules"][module]["nodes"]
        opts = ["—"] + [n["id"] for n in pool if n["id"] != node["id"] and (not allowed or n["op"] in allowed)]
        st.selectbox(name, opts, index=opts.index(value) if value in opts else 0, **common)
    else:  # text, or a value of the wrong type from a hand-edited file: text shows it as it is
        st.text_input(name, value=to_text(value), placeholder="empty: not set" if prm["optional"] else "", **common)


def render_params(ds: DesignSession, node: dict, rev: int, module: str | None = None) -> None:
    """One widget per parameter of `node`: a top-level node, or (`module` given) a layer of that module's
    definition, whose change reaches every instance."""
    spec = op_spec(node["op"])
    for prm in spec["params"] if spec else []:
        _param_widget(ds, node, prm, rev, module)


def render_properties(ds: DesignSession, report: Report, node_id: str) -> None:
    """The form for one node: id, op doc, its check, every parameter, output toggle, delete."""
    node = next(n for n in ds.graph["nodes"] if n["id"] == node_id)
    spec = op_spec(node["op"])
    rev = ds.rev
    nr = report.nodes.get(node_id)
    st.markdown(f"#### {node['op']}")
    if spec:
        st.caption(spec["doc"])
    key = f"rename_{rev}_{node_id}"
    st.text_input("id", value=node_id, key=key, on_change=_on_rename, args=(ds, node_id, key),
                  help="The node's name; the generated code uses it for the layer and its variable.")
    if nr is not None and nr.shape:
        ins = ", ".join("×".join(map(str, s)) for s in nr.in_shapes) or "—"
        st.markdown(f"`{ins}` → **`{'×'.join(map(str, nr.shape))}`**  \n"
                    f"{nr.params:,} parameters · {nr.macs:,} MACs")
    elif nr is not None and nr.blocked:
        st.info("Waiting on an input: an upstream node is in error or not connected yet.")
    render_params(ds, node, rev)
    is_out = node_id in ds.graph.get("outputs", [])
    okey = f"out_{rev}_{node_id}_{is_out}"
    st.toggle("Network output", value=is_out, key=okey, help="The network returns this node's result.",
              on_change=_on_output, args=(ds, node_id, okey, is_out))
    st.button("Delete node", key=f"del_{rev}_{node_id}", on_click=ds.delete, args=([node_id],),
              icon=":material/delete:", width="stretch")
