"""Edits with modules, as pure functions on graph-file dicts (like engine.edit: the input is never mutated).

- `make_module`: a selection of nodes becomes a definition and one instance node in their place.
- `extract_modules`: several groups of nodes (blocks of an imported or old design) become instances of shared
  definitions; params that differ between the groups become module arguments.
- `detach`: an instance gets its own copy of its definition (editing it no longer changes the others).
- `inline`: an instance is replaced by its inner nodes again.
- `set_definition`: replace a definition (every instance changes with it).
- `rename_module`: a definition gets a new name (every instance follows; it is the exported class's name).
- `set_expanded`: the canvas's expand/collapse of an instance (ui state only; never reaches the model); the cards
  below it make room (engine.reflow).
"""
from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

from engine.catalog import get_op, has_op
from engine.modules import RESERVED, plain_identifier
from engine.reflow import reflow

Design = dict[str, Any]


class ModuleEditError(ValueError):
    """An edit that cannot be done as asked; the message says why and what to do."""


def _node_map(g: Design) -> dict[str, dict]:
    return {n["id"]: n for n in g.get("nodes", [])}


def _readers(g: Design) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n in g.get("nodes", []):
        for s in n.get("inputs", []):
            out.setdefault(s, []).append(n["id"])
    return out


def _common_prefix(ids: list[str]) -> str:
    """'layer1_0_' for ['layer1_0_conv1', 'layer1_0_bn1', ...] (cut at the last '_' or '.'), else ''."""
    if len(ids) < 2:
        return ""
    first, last = min(ids), max(ids)
    i = 0
    while i < min(len(first), len(last)) and first[i] == last[i]:
        i += 1
    prefix = first[:i]
    cut = max(prefix.rfind("_"), prefix.rfind("."))
    return prefix[:cut + 1] if cut > 0 else ""


def _identifier(text: str, fallback: str) -> str:
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", text).strip("_")
    if not name or name[0].isdigit():
        name = fallback
    return name


def _cut(g: Design, ids: list[str]) -> tuple[list[str], str, list[dict]]:
    """(external sources the selection reads, in order; the one selected node the rest of the graph reads;
    the selected nodes in file order). ModuleEditError when the selection is not one block."""
    sel = set(ids)
    nodes = [n for n in g.get("nodes", []) if n["id"] in sel]
    missing = sel - {n["id"] for n in nodes}
    if missing:
        raise ModuleEditError(f"no node(s) {sorted(missing)} in the design.")
    if any(n["op"] == "Input" for n in nodes):
        raise ModuleEditError("an Input node cannot go into a module: a module gets its inputs from outside. "
                              "Leave the Input out of the selection.")
    ext: list[str] = []
    for n in nodes:
        for s in n.get("inputs", []):
            if s not in sel and s not in ext:
                ext.append(s)
    readers = _readers(g)
    outs = [n["id"] for n in nodes
            if any(r not in sel for r in readers.get(n["id"], [])) or n["id"] in g.get("outputs", [])]
    if not outs:  # nothing outside reads it (yet): the selection's last sink
        sinks = [n["id"] for n in nodes if not any(r in sel for r in readers.get(n["id"], []))]
        outs = sinks[-1:]
    if len(outs) != 1:
        raise ModuleEditError(f"a module has one output, but the rest of the design reads {len(outs)} of the selected "
                              f"nodes ({', '.join(outs)}). Select a block with a single exit.")
    if not ext:
        raise ModuleEditError("the selection reads nothing from outside it. Include the node that feeds it in the "
                              "design, and select only the block.")
    return ext, outs[0], nodes


def _input_names(n: int) -> list[str]:
    return ["x"] if n == 1 else [f"x{i + 1}" for i in range(n)]


def _definition(nodes: list[dict], ext: list[str], out: str, local: dict[str, str]) -> dict:
    names = _input_names(len(ext))
    rename = {**dict(zip(ext, names)), **local}
    xs = [n.get("ui", {}).get("x", 0.0) for n in nodes]
    ys = [n.get("ui", {}).get("y", 0.0) for n in nodes]
    inner = []
    for n in nodes:
        m = {"id": local[n["id"]], "op": n["op"]}
        if n.get("params"):
            m["params"] = copy.deepcopy(n["params"])
            for name in _refs(n["op"]):
                if m["params"].get(name) in local:
                    m["params"][name] = local[m["params"][name]]
        m["inputs"] = [rename[s] for s in n.get("inputs", [])]
        ui = {k: v for k, v in n.get("ui", {}).items() if k not in ("group", "comment")}
        if ui:
            ui["x"] = ui.get("x", 0.0) - min(xs)
            ui["y"] = ui.get("y", 0.0) - min(ys)
            m["ui"] = ui
        inner.append(m)
    return {"args": {}, "inputs": names, "nodes": inner, "outputs": [local[out]]}


def _refs(op: str) -> tuple[str, ...]:
    return tuple(p.name for p in get_op(op).params if p.type == "node") if has_op(op) else ()


def _replace(g: Design, removed: set[str], instance: dict, out: str, at: int) -> Design:
    """The design with `removed` nodes gone, `instance` in their place, and readers of `out` reading it."""
    nodes = [n for n in g["nodes"] if n["id"] not in removed]
    nodes.insert(at, instance)
    for n in nodes:
        if n is instance:
            continue
        if out in n.get("inputs", []):
            n["inputs"] = [instance["id"] if s == out else s for s in n["inputs"]]
    g["nodes"] = nodes
    g["outputs"] = [instance["id"] if o == out else o for o in g.get("outputs", [])]
    return g


def _free_id(g: Design, want: str, removed: set[str] = frozenset()) -> str:
    taken = {n["id"] for n in g.get("nodes", []) if n["id"] not in removed}
    i, cand = 1, want
    while cand in taken:
        cand = f"{want}_{i}"
        i += 1
    return cand


def _upgraded(g: Design) -> Design:
    g = copy.deepcopy(g)
    g["version"] = 2
    g.setdefault("modules", {})
    return g


def make_module(g: Design, ids: list[str], name: str, instance_id: str | None = None) -> Design:
    """The selected nodes as a new definition `name` and one instance of it in their place."""
    name = check_module_name(g, name)
    g = _upgraded(g)
    ext, out, nodes = _cut(g, ids)
    prefix = _common_prefix([n["id"] for n in nodes])
    local = {n["id"]: n["id"][len(prefix):] or n["id"] for n in nodes}
    if len(set(local.values())) < len(local):
        local = {n["id"]: n["id"] for n in nodes}
    g["modules"][name] = _definition(nodes, ext, out, local)
    removed = {n["id"] for n in nodes}
    iid = _free_id(g, instance_id or prefix.rstrip("_.") or _identifier(name.lower(), "block"), removed)
    first = nodes[0]
    inst = {"id": iid, "op": name, "inputs": ext}
    if first.get("ui"):
        inst["ui"] = {k: v for k, v in first["ui"].items() if k in ("x", "y")}
    at = min(i for i, n in enumerate(g["nodes"]) if n["id"] in removed)
    return _replace(g, removed, inst, out, at)


def extract_modules(g: Design, groups: dict[str, tuple[str, list[str]]]) -> Design:
    """Turn groups of nodes into instances: {instance id: (definition name, node ids)}. Groups with the same
    definition name and the same structure share one definition; a param whose value differs between them
    becomes an argument (named after the param, e.g. out_channels, stride). A group whose structure differs
    gets its own definition, named after what it adds (BasicBlock + downsample -> BasicBlockDownsample)."""
    g = _upgraded(g)
    cuts: dict[str, tuple[list[str], str, list[dict], dict[str, str]]] = {}
    for iid, (_, ids) in groups.items():
        ext, out, nodes = _cut(g, ids)
        cuts[iid] = (ext, out, nodes, _local_ids(iid, nodes))
    by_name: dict[str, list[str]] = {}
    for iid, (name, _) in groups.items():
        by_name.setdefault(name, []).append(iid)
    assign: dict[str, str] = {}
    for name, iids in by_name.items():
        sigs = {iid: _signature(*cuts[iid]) for iid in iids}
        common = Counter(sigs.values()).most_common()
        base_ids = {lid for lid, *_ in common[0][0][1]}
        for k, (sig, _) in enumerate(common):
            extra = [lid for lid, *_ in sig[1] if lid not in base_ids]
            heads = {re.sub(r"_\d+$", "", e) for e in extra}
            # a variant that adds one named part (ResNet's downsample) is named after it, others are numbered
            dname = name if k == 0 else name + "".join(w.capitalize() for w in re.split(r"[_\W]+", heads.pop())
                                                       if w) if len(heads) == 1 and len(extra) <= 4 \
                else f"{name}_{k + 1}"
            while dname in g["modules"] or has_op(dname):
                dname += "_"
            members = [iid for iid in iids if sigs[iid] == sig]
            g["modules"][dname] = _shared_definition([cuts[i] for i in members])
            for iid in members:
                assign[iid] = dname
    alias: dict[str, str] = {}  # output id of a group already replaced -> its instance id
    for iid, dname in assign.items():
        ext, out, nodes, local = cuts[iid]
        ext = [alias.get(s, s) for s in ext]
        d = g["modules"][dname]
        params = {}
        for arg in d["args"]:
            lid, key = d["_where"][arg]
            node = next(n for n in nodes if local[n["id"]] == lid)
            params[arg] = copy.deepcopy(node.get("params", {}).get(key, _default(node["op"], key)))
        removed = {n["id"] for n in nodes}
        inst = {"id": _free_id(g, iid, removed), "op": dname, "inputs": ext}
        if params:
            inst["params"] = params
        if nodes[0].get("ui"):
            inst["ui"] = {k: v for k, v in nodes[0]["ui"].items() if k in ("x", "y")}
        at = min(i for i, n in enumerate(g["nodes"]) if n["id"] in removed)
        g = _replace(g, removed, inst, out, at)
        alias[out] = inst["id"]
    for d in g["modules"].values():
        d.pop("_where", None)
    return g


def _local_ids(iid: str, nodes: list[dict]) -> dict[str, str]:
    """Inner ids of a group: without the instance prefix ('layer1_0_conv1' -> 'conv1'); an id without it (a
    traced function such as 'add_3') loses its numbering suffix, so that the same block reads the same inner
    ids in every instance."""
    local: dict[str, str] = {}
    unprefixed: list[str] = []
    for n in nodes:
        nid = n["id"]
        if nid.lower().startswith(iid.lower() + "_") and len(nid) > len(iid) + 1:  # torch.fx lowercases
            local[nid] = nid[len(iid) + 1:]
        else:
            unprefixed.append(nid)
    seen: Counter[str] = Counter()
    for nid in unprefixed:  # relu_5, relu_6 in one block, relu_12, relu_13 in the next: relu, relu_1 in both
        base = re.sub(r"_\d+$", "", nid) or nid
        name = base if not seen[base] else f"{base}_{seen[base]}"
        seen[base] += 1
        while name in local.values():
            name += "_"
        local[nid] = name
    if len(set(local.values())) < len(local):
        return {n["id"]: n["id"] for n in nodes}
    return local


def _signature(ext, out, nodes, local) -> tuple:
    names = dict(zip(ext, _input_names(len(ext))))
    return (len(ext), tuple((local[n["id"]], n["op"], tuple(local.get(s, names.get(s, "?")) for s in
                                                             n.get("inputs", []))) for n in nodes), local[out])


def _default(op: str, key: str) -> Any:
    return get_op(op).param(key).default if has_op(op) else None


def _shared_definition(members: list[tuple]) -> dict:
    ext, out, nodes, local = members[0]
    d = _definition(nodes, ext, out, local)
    vectors: dict[tuple[str, str], list] = {}
    for m in d["nodes"]:
        keys = set()
        for _, _, ns, loc in members:
            node = next(n for n in ns if loc[n["id"]] == m["id"])
            keys |= set(node.get("params", {}))
        for key in sorted(keys):
            if key in _refs(m["op"]):
                continue
            vals = []
            for _, _, ns, loc in members:
                node = next(n for n in ns if loc[n["id"]] == m["id"])
                vals.append(node.get("params", {}).get(key, _default(m["op"], key)))
            if any(v != vals[0] for v in vals):
                vectors[(m["id"], key)] = vals
    args: dict[str, Any] = {}
    where: dict[str, tuple[str, str]] = {}
    arg_vectors: dict[str, list] = {}
    for (lid, key), vals in vectors.items():
        name = next((a for a, v in arg_vectors.items() if v == vals and where[a][1] == key), None)
        if name is None:
            name = key if key not in arg_vectors else _identifier(f"{lid}_{key}", key)
            while name in arg_vectors:
                name += "_"
            arg_vectors[name], args[name], where[name] = vals, vals[0], (lid, key)
        node = next(m for m in d["nodes"] if m["id"] == lid)
        node.setdefault("params", {})[key] = f"${name}"
    d["args"] = args
    d["_where"] = where
    return d


def detach(g: Design, instance_id: str, new_name: str | None = None) -> Design:
    """The instance gets its own copy of its definition (named `new_name`, default '<Name>_<n>')."""
    g = copy.deepcopy(g)
    node = _node_map(g).get(instance_id)
    mods = g.get("modules", {})
    if node is None or node["op"] not in mods:
        raise ModuleEditError(f"'{instance_id}' is not a module instance.")
    name = new_name or node["op"]
    if new_name is None or name in mods:
        base, i = re.sub(r"_\d+$", "", node["op"]), 2
        name = f"{base}_{i}"
        while name in mods:
            i += 1
            name = f"{base}_{i}"
    if not name.isidentifier() or has_op(name):
        raise ModuleEditError(f"module name {name!r} must be a Python identifier that is not a catalog op.")
    mods[name] = copy.deepcopy(mods[node["op"]])
    node["op"] = name
    return g


def inline(g: Design, instance_id: str) -> Design:
    """Replace an instance by its inner nodes (ids '<instance>_<inner>'), arguments substituted."""
    from_graph = copy.deepcopy(g)
    nodes = _node_map(from_graph)
    node = nodes.get(instance_id)
    mods = from_graph.get("modules", {})
    if node is None or node["op"] not in mods:
        raise ModuleEditError(f"'{instance_id}' is not a module instance.")
    d = mods[node["op"]]
    args = {**d.get("args", {}), **node.get("params", {})}
    taken = set(nodes) - {instance_id}
    rename = dict(zip(d.get("inputs", []), node.get("inputs", [])))
    for m in d["nodes"]:
        rename[m["id"]] = _free_id({"nodes": [{"id": t} for t in taken]}, f"{instance_id}_{m['id']}")
        taken.add(rename[m["id"]])
    new = []
    ui = node.get("ui", {})
    for m in d["nodes"]:
        n = {"id": rename[m["id"]], "op": m["op"], "inputs": [rename.get(s, s) for s in m.get("inputs", [])]}
        params = {k: _subst(v, args) for k, v in m.get("params", {}).items()}
        for name in _refs(m["op"]):
            if params.get(name) in rename:
                params[name] = rename[params[name]]
        if params:
            n["params"] = params
        mui = m.get("ui", {})
        n["ui"] = {"x": ui.get("x", 0.0) + mui.get("x", 0.0), "y": ui.get("y", 0.0) + mui.get("y", 0.0),
                   "group": instance_id}
        new.append(n)
    out = rename[d["outputs"][0]]
    at = next(i for i, n in enumerate(from_graph["nodes"]) if n["id"] == instance_id)
    rest = [n for n in from_graph["nodes"] if n["id"] != instance_id]
    for n in rest:
        n["inputs"] = [out if s == instance_id else s for s in n.get("inputs", [])]
    from_graph["nodes"] = rest[:at] + new + rest[at:]
    from_graph["outputs"] = [out if o == instance_id else o for o in from_graph.get("outputs", [])]
    return from_graph


def _subst(v: Any, args: dict[str, Any]) -> Any:
    if isinstance(v, str) and v.startswith("$") and v[1:] in args:
        return copy.deepcopy(args[v[1:]])
    if isinstance(v, list):
        return [_subst(x, args) for x in v]
    return v


def set_definition(g: Design, name: str, definition: dict) -> Design:
    """Replace the definition `name` (every instance of it changes; below an expanded one, the cards make room for
    the layers it gains or close up on those it loses)."""
    before = g
    g = copy.deepcopy(g)
    if name not in g.get("modules", {}):
        raise ModuleEditError(f"there is no module named '{name}'.")
    g["modules"][name] = copy.deepcopy(definition)
    return reflow(before, g, in_place=True)  # g is this edit's own copy


def check_module_name(g: Design, name: Any, old: str | None = None) -> str:
    """`name` (stripped) when a definition may take it: a plain Python identifier (it becomes the exported class's
    name), not a catalog op, not a name the exported file uses, not another definition's. ModuleEditError says
    which rule it breaks and what to do."""
    if not isinstance(name, str) or not plain_identifier(name.strip()):
        raise ModuleEditError(f"module name {name!r} must be a Python identifier such as 'BasicBlock' (letters, "
                              f"digits and _, not starting with a digit; not a Python keyword or builtin).")
    name = name.strip()
    if has_op(name):
        raise ModuleEditError(f"module name '{name}' is a catalog op. Choose another name, e.g. '{name}Block'.")
    if name in RESERVED:
        raise ModuleEditError(f"module name '{name}' is a name the exported file uses ({', '.join(sorted(RESERVED))})."
                              f" Choose another name, e.g. '{name}Block'.")
    if name != old and name in g.get("modules", {}):
        raise ModuleEditError(f"there is already a module named '{name}'. Choose another name.")
    return name


def rename_module(g: Design, old: str, new: str) -> Design:
    """Definition `old` named `new`: every instance of it (at the top level and inside other definitions) follows,
    the definition keeps its place in the file, and the exported class takes the new name."""
    mods = g.get("modules", {})
    if old not in mods:
        raise ModuleEditError(f"there is no module named '{old}'.")
    new = check_module_name(g, new, old)
    g = copy.deepcopy(g)
    g["modules"] = {new if k == old else k: v for k, v in g["modules"].items()}
    for nodes in [g["nodes"]] + [d.get("nodes", []) for d in g["modules"].values() if isinstance(d, dict)]:
        for n in nodes:
            if n.get("op") == old:
                n["op"] = new
    return g


def set_inner_params(g: Design, name: str, node_id: str, params: dict[str, Any]) -> Design:
    """Set params of one node inside definition `name` (every instance changes); None removes a param."""
    g = copy.deepcopy(g)
    d = g.get("modules", {}).get(name)
    node = next((m for m in d["nodes"] if m["id"] == node_id), None) if d else None
    if node is None:
        raise ModuleEditError(f"module '{name}' has no node '{node_id}'.")
    p = node.setdefault("params", {})
    for k, v in params.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return g


def set_expanded(g: Design, instance_id: str, expanded: bool) -> Design:
    """Expand an instance in place on the canvas, or collapse it (ui state; the model is unchanged). Its card grows
    or shrinks, and the cards below it make room or come back up (engine.reflow): one edit, so one undo step."""
    before = g
    g = copy.deepcopy(g)
    node = _node_map(g).get(instance_id)
    if node is None or node["op"] not in g.get("modules", {}):
        raise ModuleEditError(f"'{instance_id}' is not a module instance.")
    ui = node.setdefault("ui", {})
    if expanded:
        ui["expanded"] = True
    else:
        ui.pop("expanded", None)
    return reflow(before, g, in_place=True)  # g is this edit's own copy
