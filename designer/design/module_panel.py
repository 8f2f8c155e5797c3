"""The Properties panel's module parts: "Make module" for a selection of several cards, and the panel of a selected
module instance (its arguments, expand/collapse, Detach, Inline, and its definition's layers, whose parameters
change every instance). Every action is a DesignSession command, so it is one undoable step."""
from __future__ import annotations

import json
import zlib
from typing import Any

import streamlit as st

from designer.design.form import parse_text, to_text
from designer.design.palette import op_spec
from designer.design.session import DesignSession
from engine.shapes import Report


def _digest(value: Any) -> str:
    return f"{zlib.crc32(json.dumps(value, sort_keys=True, default=str).encode()):08x}"


def _suggest_name(ds: DesignSession) -> str:
    taken = set(ds.graph.get("modules") or {})
    i, name = 1, "Block"
    while name in taken:
        i += 1
        name = f"Block{i}"
    return name


def _on_make(ds: DesignSession, ids: list[str], key: str) -> None:
    ds.make_module(ids, st.session_state.get(key) or "")


def render_make_module(ds: DesignSession) -> None:
    """Several cards selected: name them as a module."""
    ids = ds.multi
    st.markdown("#### Make module")
    st.caption(f"{len(ids)} cards selected: {', '.join(ids)}. They become one module definition and one instance "
               "of it in their place (one block: a single exit, no Input).")
    key = f"mkmod_name_{ds.rev}_{_digest(ids)}"
    st.text_input("Module name", value=_suggest_name(ds), key=key,
                  help="A Python identifier, e.g. BasicBlock: the exported code's class name.")
    st.button("Make module", key=f"mkmod_go_{ds.rev}", on_click=_on_make, args=(ds, ids, key), type="primary",
              icon=":material/widgets:", width="stretch")


def _value(text: str) -> Any:
    """An argument value from its text field: JSON when it reads as JSON (8, [3, 3], true), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _on_arg(ds: DesignSession, node_id: str, arg: str, key: str) -> None:
    node = next((n for n in ds.graph["nodes"] if n["id"] == node_id), None)
    if node is None:
        return
    params = dict(node.get("params", {}))
    params[arg] = _value(st.session_state[key])
    ds.set_params(node_id, params)


def _on_inner(ds: DesignSession, module: str, inner_id: str, prm: dict, key: str) -> None:
    raw = str(st.session_state[key]).strip()
    if raw.startswith("$"):  # a module argument: the instance's value goes there
        value: Any = raw
    else:
        try:
            value = parse_text(prm, raw) if prm["type"] != "bool" else raw.lower() in ("1", "true", "yes", "on")
        except ValueError as e:
            st.session_state["design_notice"] = str(e)
            return
    ds.set_inner_params(module, inner_id, {prm["name"]: value})


def render_instance(ds: DesignSession, report: Report, node_id: str) -> None:
    """The panel of a selected module instance."""
    node = next(n for n in ds.graph["nodes"] if n["id"] == node_id)
    name = node["op"]
    d = ds.graph["modules"][name]
    rev = ds.rev
    nr = report.nodes.get(node_id)
    users = [n["id"] for n in ds.graph["nodes"] if n["op"] == name]
    st.markdown(f"#### {name} · `{node_id}`")
    st.caption(d.get("doc") or f"Module instance: {len(d.get('nodes', []))} layers. {len(users)} instance(s) share "
               f"this definition ({', '.join(users)}).")
    if nr is not None and nr.shape:
        st.markdown(f"→ **`{'×'.join(map(str, nr.shape))}`**  \n{nr.params:,} parameters · {nr.macs:,} MACs")
    expanded = bool((node.get("ui") or {}).get("expanded"))
    st.button("Collapse" if expanded else "Expand", key=f"mod_exp_{rev}_{node_id}", width="stretch",
              icon=":material/unfold_less:" if expanded else ":material/unfold_more:",
              on_click=ds.set_expanded, args=(node_id, not expanded),
              help="Show the module's layers beside its card, or only its output shape and parameters.")
    st.button("Detach", key=f"mod_detach_{rev}_{node_id}", on_click=ds.detach, args=(node_id,), width="stretch",
              icon=":material/call_split:",
              help="Give this instance its own copy of the definition: editing it no longer changes the others.")
    st.button("Inline", key=f"mod_inline_{rev}_{node_id}", on_click=ds.inline, args=(node_id,), width="stretch",
              icon=":material/unfold_more_double:",
              help="Replace this instance by its layers on the canvas.")
    args = d.get("args") or {}
    if args:
        st.markdown("**Arguments** (this instance)")
    for arg, default in args.items():
        value = node.get("params", {}).get(arg, default)
        key = f"mod_arg_{rev}_{node_id}_{_digest(node.get('params', {}))}_{arg}"
        st.text_input(arg, value=json.dumps(value) if not isinstance(value, str) else value, key=key,
                      on_change=_on_arg, args=(ds, node_id, arg, key), help=f"Default {json.dumps(default)}.")
    st.markdown(f"**Definition `{name}`** (changes every instance)")
    for m in d.get("nodes", []):
        spec = op_spec(m.get("op", ""))
        with st.expander(f"{m['id']} · {m.get('op')}"):
            if spec is None:
                st.caption("A module inside the module: edit its own definition through one of its instances.")
                continue
            for prm in spec["params"]:
                if prm["type"] == "node":
                    continue
                value = (m.get("params") or {}).get(prm["name"], prm["default"])
                key = f"mod_in_{rev}_{name}_{m['id']}_{_digest(d)}_{prm['name']}"
                st.text_input(prm["name"], value=to_text(value), key=key, help=prm["help"],
                              on_change=_on_inner, args=(ds, name, m["id"], prm, key))
