"""The Properties panel's module parts: "Make module" for a selection of several cards; the panel of a selected
module instance (its module's name, its arguments, expand/collapse, Detach, Inline, and its definition's layers);
and the panel of one of those layers (clicked on the expanded card, or in the list): the op's usual form
(designer.design.form), whose changes go to the definition and so to every instance. Every change is a
DesignSession command, so it is one undoable step."""
from __future__ import annotations

import json
import zlib
from typing import Any

import streamlit as st

from designer.design.form import render_params
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


def _on_arg(ds: DesignSession, node_id: str, arg: str, key: str, shown: Any = None) -> None:
    node = next((n for n in ds.graph["nodes"] if n["id"] == node_id), None)
    if node is None:
        return
    d = (ds.graph.get("modules") or {}).get(node["op"]) or {}
    if _value(st.session_state[key]) == shown:
        return  # the value it was drawn with, called back after an undo cut its run short (form.as_drawn): no edit
    if node.get("params", {}).get(arg, (d.get("args") or {}).get(arg)) != shown:
        return  # the design changed this argument since the field was drawn (an undo): its value is stale
    ds.set_params(node_id, with_arg(node.get("params", {}), (d.get("args") or {}), arg,
                                    _value(st.session_state[key])))


def with_arg(params: dict[str, Any], defaults: dict[str, Any], arg: str, value: Any) -> dict[str, Any]:
    """An instance's params with `arg` set to `value`; a value equal to the module's default is left out (like
    engine.edit.set_params does for an op), so setting an argument back to its default leaves the params as they
    were before it was set (and an undo step that changes nothing is not recorded)."""
    out = {k: v for k, v in params.items() if k != arg}
    if arg not in defaults or value != defaults[arg]:
        out[arg] = value
    return out


def _on_module_name(ds: DesignSession, name: str, key: str) -> None:
    new = str(st.session_state[key])
    if new.strip() != name and name in (ds.graph.get("modules") or {}):  # the name it was drawn with is no edit
        ds.rename_module(name, new)  # (form.as_drawn); a module renamed since (an undo): the value is stale


def _instances(ds: DesignSession, name: str) -> list[str]:
    return [n["id"] for n in ds.graph["nodes"] if n["op"] == name]


def render_instance(ds: DesignSession, report: Report, node_id: str) -> None:
    """The panel of a selected module instance."""
    node = next(n for n in ds.graph["nodes"] if n["id"] == node_id)
    name = node["op"]
    d = ds.graph["modules"][name]
    rev = ds.rev
    nr = report.nodes.get(node_id)
    users = _instances(ds, name)
    st.markdown(f"#### {name} · `{node_id}`")
    st.caption(d.get("doc") or f"Module instance: {len(d.get('nodes', []))} layers. {len(users)} instance(s) share "
               f"this definition ({', '.join(users)}).")
    if nr is not None and nr.shape:
        st.markdown(f"→ **`{'×'.join(map(str, nr.shape))}`**  \n{nr.params:,} parameters · {nr.macs:,} MACs")
    key = f"mod_name_{rev}_{node_id}"
    st.text_input("Module name", value=name, key=key, on_change=_on_module_name, args=(ds, name, key),
                  help="The definition's name, and the exported code's class name: every instance follows.")
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
                      on_change=_on_arg, args=(ds, node_id, arg, key, value), help=f"Default {json.dumps(default)}.")
    st.markdown(f"**Definition `{name}`** (changes every instance)")
    st.caption("Pick a layer (or click it on the expanded card) to edit it.")
    for m in d.get("nodes", []):
        st.button(f"{m['id']} · {m.get('op')}", key=f"mod_layer_{rev}_{node_id}_{m['id']}", width="stretch",
                  on_click=ds.select_inner, args=(node_id, m["id"]))


def render_inner(ds: DesignSession, report: Report, instance_id: str, inner_id: str) -> None:
    """The panel of one layer inside a module instance: the op's form, applied to the definition."""
    inst = next(n for n in ds.graph["nodes"] if n["id"] == instance_id)
    name = inst["op"]
    d = ds.graph["modules"][name]
    layer = next(m for m in d["nodes"] if m.get("id") == inner_id)
    spec = op_spec(layer.get("op", ""))
    users = _instances(ds, name)
    st.markdown(f"#### {layer.get('op')} · `{inner_id}` in `{instance_id}`")
    if spec:
        st.caption(spec["doc"])
    st.info(f"A layer of the module **{name}**: a change here applies to its definition, and so to "
            + ("its one instance" if len(users) == 1 else f"all {len(users)} instances ({', '.join(users)})")
            + f". Detach `{instance_id}` first to change it alone.", icon=":material/widgets:")
    flat = report.flat.nodes.get(f"{instance_id}.{inner_id}") if report.flat is not None else None
    if flat is not None and flat.shape:
        ins = ", ".join("×".join(map(str, s)) for s in flat.in_shapes) or "—"
        st.markdown(f"In `{instance_id}`: `{ins}` → **`{'×'.join(map(str, flat.shape))}`**  \n"
                    f"{flat.params:,} parameters · {flat.macs:,} MACs")
    elif flat is not None and flat.error:
        st.error(flat.error, icon=":material/error:")
    args = {**(d.get("args") or {}), **(inst.get("params") or {})}
    if args:
        st.caption("A value `$name` takes each instance's argument (" + ", ".join(
            f"`${k}` = {json.dumps(v)} here" for k, v in args.items()) + ").")
    if spec is None:
        st.caption("A module inside the module: edit its own definition through one of its instances.")
    else:
        render_params(ds, layer, ds.rev, module=name)
    st.button(f"Back to {instance_id}", key=f"mod_back_{ds.rev}_{instance_id}", on_click=ds.select_inner,
              args=(instance_id, None), icon=":material/arrow_back:", width="stretch")
