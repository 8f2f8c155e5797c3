"""Diff two designs: what was added, removed, renamed, changed (op, params, shapes) or rewired, with Δparams and ΔMACs.

    d = diff(a, b)                 # a, b: a graph-file dict, a Graph, JSON text or a path (os.PathLike)
    d.changes                      # Change per edit, in an order that can be applied one by one
    g = apply_change(a_dict, d.changes[0])   # carries that one edit from b into a (a new dict; a is not mutated)

Nodes are matched by id first; the rest by structure: the same op, and the same neighbourhood (inputs or readers
that are already matched), preferring equal parameters; matching repeats until nothing more matches, so a chain of
renamed nodes is found from either end. Parameters are compared after normalisation (`kernel_size: 3` is `[3, 3]`);
node references (MaxUnpool2d's pool) count as wiring. Layout (ui), file order and the design's name are not changes.

A change names its node in a (`a_id`) and in b (`b_id`); `apply_change` finds the node in the graph it edits by
either id, so the changes of one diff can be applied in any order a user picks (in `changes`' order they turn a into
b exactly: module definitions, removed, renamed, added (b's dependency order), changed, rewired, outputs, task). `reshaped` lists nodes
that changed only because something upstream did (their output shape or weight count): informative, not edits.

Note: `engine.diff` (the package attribute) is this module's `diff` function; import the rest with
`from engine.diff import apply_change, Change, Diff`.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any

from engine.catalog.arith import fmt_shape
from engine.edit import delete_nodes, dependencies, rename_node
from engine.errors import GraphError
from engine.graph import parse_partial, read_graph_file
from engine.shapes import Report, check
from engine.wiring import ref_params

Design = dict[str, Any]
Shape = tuple[int, ...]
KINDS = ("removed", "renamed", "added", "changed", "rewired", "outputs", "task", "module")


@dataclass
class Change:
    """One edit that turns a into b. Node ids: `a_id` in a (None for an added node), `b_id` in b (None for a removed
    one); both None for a graph-level change (outputs, task)."""

    kind: str  # one of KINDS
    a_id: str | None = None
    b_id: str | None = None
    op: tuple[str | None, str | None] = (None, None)  # (a's op, b's op)
    params: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # changed params: name -> (in a, in b)
    inputs: tuple[list[str], list[str]] | None = None  # rewired: a's inputs (a's ids), b's inputs (b's ids)
    shape: tuple[Shape | None, Shape | None] = (None, None)  # output shape in a, in b (batch excluded)
    d_params: int = 0  # this node's own parameter count, b minus a
    d_macs: int = 0
    node: Design | None = None  # added: b's node; changed: b's op and params; rewired: b's inputs and references
    refs: dict[str, str] = field(default_factory=dict)  # b id -> a id of every matched node the change names
    before: Any = None  # outputs / task: a's value (outputs as b names them where matched)
    after: Any = None  # outputs / task: b's value
    text: str = ""  # one line for people

    @property
    def key(self) -> str:
        """A stable name for the change (the page keys its buttons with it)."""
        return f"{self.kind}:{self.a_id or ''}>{self.b_id or ''}"

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({
            "kind": self.kind, "a_id": self.a_id, "b_id": self.b_id, "op": list(self.op),
            "params": {k: list(v) for k, v in self.params.items()},
            "inputs": [list(self.inputs[0]), list(self.inputs[1])] if self.inputs else None,
            "shape": [list(s) if s else None for s in self.shape], "d_params": self.d_params, "d_macs": self.d_macs,
            "before": self.before, "after": self.after, "text": self.text})


@dataclass
class Reshaped:
    """A node with no edit of its own whose output shape or weight count changed because of an edit upstream."""

    a_id: str
    b_id: str
    shape: tuple[Shape | None, Shape | None]
    d_params: int
    d_macs: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"a_id": self.a_id, "b_id": self.b_id, "shape": [list(s) if s else None for s in self.shape],
                "d_params": self.d_params, "d_macs": self.d_macs, "text": self.text}


@dataclass
class Diff:
    a_name: str
    b_name: str
    matched: dict[str, str]  # a id -> b id
    changes: list[Change]
    reshaped: list[Reshaped]
    params: tuple[int, int]  # total parameters of a, of b
    macs: tuple[int, int]  # total MACs per sample of a, of b
    a_ok: bool = True  # the designs check without error (with errors, shapes and counts cover what checks)
    b_ok: bool = True

    @property
    def d_params(self) -> int:
        return self.params[1] - self.params[0]

    @property
    def d_macs(self) -> int:
        return self.macs[1] - self.macs[0]

    @property
    def same(self) -> bool:
        return not self.changes

    def count(self, kind: str) -> int:
        return sum(c.kind == kind for c in self.changes)

    def highlights(self) -> tuple[dict[str, str], dict[str, str]]:
        """Per side, node id -> what happened to it (added, removed, renamed, changed, rewired, reshaped): what the
        side-by-side canvases colour. A node with several changes shows the strongest (changed over rewired)."""
        rank = {k: i for i, k in enumerate(("reshaped", "rewired", "renamed", "changed", "added", "removed"))}
        a: dict[str, str] = {}
        b: dict[str, str] = {}
        marks = [(c.a_id, c.b_id, c.kind) for c in self.changes if c.kind in rank]
        marks += [(r.a_id, r.b_id, "reshaped") for r in self.reshaped]
        for a_id, b_id, kind in marks:
            for side, nid in ((a, a_id), (b, b_id)):
                if nid is not None and rank[kind] > rank.get(side.get(nid, ""), -1):
                    side[nid] = kind
        return a, b

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a_name, "b": self.b_name, "same": self.same, "a_ok": self.a_ok, "b_ok": self.b_ok,
                "params": list(self.params), "macs": list(self.macs), "d_params": self.d_params,
                "d_macs": self.d_macs, "matched": self.matched, "changes": [c.to_dict() for c in self.changes],
                "reshaped": [r.to_dict() for r in self.reshaped]}

    def summary(self) -> str:
        """'3 changes: 1 added, 1 changed, 1 rewired · Δparams +1,234 · ΔMACs −5,678'."""
        if self.same:
            return "The designs are the same (layout and name aside)."
        parts = [f"{self.count(k)} {k}" for k in KINDS[:5] if self.count(k)]
        parts += [k for k in KINDS[5:] if self.count(k)]
        n = len(self.changes)
        return (f"{n} change{'s' if n != 1 else ''}: {', '.join(parts)} · Δparams {self.d_params:+,} · "
                f"ΔMACs {self.d_macs:+,}")


# ---- reading the two designs ----
def _read(source: Any) -> tuple[Design, Report]:
    """(graph-file dict, check report) of `source`; a dict is taken as it is (a design being edited may not
    validate yet). Text and files are parsed once: the check reads the parsed Graph."""
    if isinstance(source, dict) and isinstance(source.get("nodes"), list):
        return source, check(source)
    if isinstance(source, os.PathLike):
        source = read_graph_file(source)
    g, issues, _ = parse_partial(source)
    if g is None:
        raise GraphError(issues)
    return g.to_dict(), check(g)


def _nodes(g: Design) -> dict[str, Design]:
    out: dict[str, Design] = {}
    for n in g.get("nodes", []):
        if isinstance(n, dict) and isinstance(n.get("id"), str) and isinstance(n.get("op"), str):
            out.setdefault(n["id"], n)  # the first of duplicate ids counts, as in engine.check
    return out


def _order(nodes: dict[str, Design], report: Report) -> list[str]:
    """Dependency order (from the check), then any node it left out (in a cycle), in file order."""
    seen = [i for i in report.order if i in nodes]
    done = set(seen)
    return seen + [i for i in nodes if i not in done]


def _own_params(n: Design, report: Report) -> dict[str, Any]:
    """The node's params as compared: normalised when they check, else as written; references left out."""
    p = report.normalised.get(n["id"])
    p = dict(p) if p is not None else dict(n.get("params") or {})
    for r in ref_params(n["op"]):
        p.pop(r, None)
    return _jsonable(p)


def _jsonable(v: Any) -> Any:
    """Tuples as lists (normalised params hold tuples; files hold lists): equal values compare equal."""
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _refs(n: Design) -> dict[str, Any]:
    return {r: (n.get("params") or {}).get(r) for r in ref_params(n["op"])}


# ---- matching ----
def match(a: Design, b: Design, ra: Report | None = None, rb: Report | None = None) -> dict[str, str]:
    """a id -> b id for every node of a that has a counterpart in b: by id first, then by structure (same op, and
    the same matched inputs or readers; equal parameters break ties), repeated until nothing more matches."""
    ra, rb = ra or check(a), rb or check(b)
    A, B = _nodes(a), _nodes(b)
    m = {i: i for i in A if i in B}
    taken = set(m.values())
    ua = [i for i in _order(A, ra) if i not in m]
    ub = [j for j in _order(B, rb) if j not in taken]
    if not ua or not ub:
        return m
    deps_a = {i: dependencies(n) for i, n in A.items()}
    deps_b = {j: dependencies(n) for j, n in B.items()}
    readers_a: dict[str, set[str]] = {i: set() for i in A}
    readers_b: dict[str, set[str]] = {j: set() for j in B}
    for i, ds in deps_a.items():
        for d in ds:
            readers_a.setdefault(d, set()).add(i)
    for j, ds in deps_b.items():
        for d in ds:
            readers_b.setdefault(d, set()).add(j)
    pa = {i: _own_params(A[i], ra) for i in ua}
    pb = {j: _own_params(B[j], rb) for j in ub}
    progress = True
    while progress and ua and ub:
        progress = False
        for i in list(ua):
            fwd = [m.get(d) for d in deps_a[i]]
            back = {m.get(r) for r in readers_a[i]}
            best, pick = 1, None
            for j in ub:
                if B[j]["op"] != A[i]["op"]:
                    continue
                s = 0
                if None not in fwd and fwd == deps_b[j]:
                    s += 2 if fwd else 1  # two sources with no inputs are weak evidence
                if back and None not in back and back == readers_b[j]:
                    s += 2
                if pa[i] == pb[j]:
                    s += 1
                if s > best:  # ties go to the first in b's dependency order: the two are interchangeable
                    best, pick = s, j
            if pick is not None:
                m[i] = pick
                ua.remove(i)
                ub.remove(pick)
                progress = True
    return m


# ---- the diff ----
def _label(src: Any, g: Design) -> str:
    return str(g.get("name") or (os.fspath(src) if isinstance(src, os.PathLike) else "untitled"))


def _shape_text(s: Shape | None) -> str:
    return fmt_shape(s) if s else "?"


def _params_text(d: int) -> str:
    return f" · {d:+,} params" if d else ""


def _val(v: Any) -> str:
    return "unset" if v is _UNSET else json.dumps(_jsonable(v), ensure_ascii=False)


_UNSET = object()


def diff(a: Any, b: Any) -> Diff:
    """The structured difference from design a to design b (see the module docstring). Never raises for a design
    with errors (it is diffed as far as it checks); raises GraphError only when a file cannot be read at all."""
    (ga, ra), (gb, rb) = _read(a), _read(b)
    A, B = _nodes(ga), _nodes(gb)
    m = match(ga, gb, ra, rb)
    back = {j: i for i, j in m.items()}
    changes: list[Change] = []
    reshaped: list[Reshaped] = []

    def info(r: Report, nid: str) -> tuple[Shape | None, int, int]:
        nr = r.nodes.get(nid)
        return (nr.shape, nr.params, nr.macs) if nr else (None, 0, 0)

    def refs_of(ids: list[Any]) -> dict[str, str]:
        return {x: back[x] for x in ids if isinstance(x, str) and x in back}

    for i in _order(A, ra):
        if i not in m:
            s, p, mac = info(ra, i)
            changes.append(Change("removed", a_id=i, op=(A[i]["op"], None), shape=(s, None), d_params=-p,
                                  d_macs=-mac, text=f"- {i} ({A[i]['op']}) removed{_params_text(-p)}"))
    for i in _order(A, ra):
        if i in m and m[i] != i:
            changes.append(Change("renamed", a_id=i, b_id=m[i], op=(A[i]["op"], B[m[i]]["op"]),
                                  text=f"{i} renamed {m[i]}"))
    for j in _order(B, rb):
        if j not in back:
            s, p, mac = info(rb, j)
            n = copy.deepcopy(B[j])
            changes.append(Change("added", b_id=j, op=(None, n["op"]), shape=(None, s), d_params=p, d_macs=mac,
                                  node=n, refs=refs_of(dependencies(n)),
                                  text=f"+ {j} ({n['op']}) added, output {_shape_text(s)}{_params_text(p)}"))
    edits: list[Change] = []
    rewires: list[Change] = []
    for i in _order(A, ra):
        if i not in m:
            continue
        j = m[i]
        na, nb = A[i], B[j]
        (sa, p_a, m_a), (sb, p_b, m_b) = info(ra, i), info(rb, j)
        own_a, own_b = _own_params(na, ra), _own_params(nb, rb)
        if na["op"] != nb["op"] or own_a != own_b:
            raw_a, raw_b = na.get("params") or {}, nb.get("params") or {}
            params = {}
            if na["op"] == nb["op"]:
                for k in [*own_a, *(k for k in own_b if k not in own_a)]:
                    if own_a.get(k, _UNSET) != own_b.get(k, _UNSET):
                        params[k] = (raw_a.get(k, own_a.get(k)), raw_b.get(k, own_b.get(k)))
            what = ([f"{na['op']} → {nb['op']}"] if na["op"] != nb["op"] else []) + [
                f"{k} {_val(x)} → {_val(y)}" for k, (x, y) in params.items()]
            if sa != sb:
                what.append(f"output {_shape_text(sa)} → {_shape_text(sb)}")
            edits.append(Change("changed", a_id=i, b_id=j, op=(na["op"], nb["op"]), params=params, shape=(sa, sb),
                                d_params=p_b - p_a, d_macs=m_b - m_a,
                                node={"op": nb["op"], "params": copy.deepcopy(nb.get("params") or {})},
                                refs=refs_of(list(_refs(nb).values())),
                                text=f"{j}: {'; '.join(what)}{_params_text(p_b - p_a)}"))
        elif sa != sb or p_a != p_b or m_a != m_b:
            reshaped.append(Reshaped(i, j, (sa, sb), p_b - p_a, m_b - m_a,
                                     f"{j}: output {_shape_text(sa)} → {_shape_text(sb)}{_params_text(p_b - p_a)} "
                                     f"(from a change upstream)"))
        ins_a, ins_b = list(na.get("inputs") or []), list(nb.get("inputs") or [])
        refs_a, refs_b = _refs(na), _refs(nb)
        mapped_refs = {k: m.get(v, None) if v else v for k, v in refs_a.items()}
        if [m.get(x) for x in ins_a] != ins_b or (na["op"] == nb["op"] and mapped_refs != refs_b) or (
                na["op"] != nb["op"] and any(refs_b.values())):
            wiring = {"inputs": ins_b, "refs": refs_b}
            what = f"inputs [{', '.join(ins_a)}] → [{', '.join(ins_b)}]"
            if refs_a != refs_b and any(refs_b.values()):
                what += "; " + ", ".join(f"{k} {refs_a.get(k)!r} → {v!r}" for k, v in refs_b.items())
            rewires.append(Change("rewired", a_id=i, b_id=j, inputs=(ins_a, ins_b), node=wiring,
                                  refs=refs_of(ins_b + [v for v in refs_b.values() if v]), text=f"{j}: {what}"))
    changes += edits + rewires
    outs_a = [m.get(o, o) for o in ga.get("outputs", [])]
    outs_b = list(gb.get("outputs", []))
    if outs_a != outs_b:
        changes.append(Change("outputs", before=outs_a, after=outs_b, refs=refs_of(outs_b),
                              text=f"outputs [{', '.join(outs_a)}] → [{', '.join(outs_b)}]"))
    if (ga.get("task") or None) != (gb.get("task") or None):
        changes.append(Change("task", before=copy.deepcopy(ga.get("task")), after=copy.deepcopy(gb.get("task")),
                              text=f"task {_val(ga.get('task'))} → {_val(gb.get('task'))}"))
    changes[:0] = _module_changes(ga, gb)  # definitions first: the nodes carried over may use them
    return Diff(_label(a, ga), _label(b, gb), m, changes, reshaped, (ra.total_params, rb.total_params),
                (ra.total_macs, rb.total_macs), ra.ok, rb.ok)


def _definition(d: Any) -> Any:
    """A module definition as compared: without the layout of its layers (ui.x, ui.y, expanded)."""
    if not isinstance(d, dict):
        return d
    out = copy.deepcopy(d)
    for n in out.get("nodes", []):
        if isinstance(n, dict) and isinstance(n.get("ui"), dict):
            n["ui"] = {k: v for k, v in n["ui"].items() if k not in ("x", "y", "expanded")}
            if not n["ui"]:
                n.pop("ui")
    return out


def _module_changes(ga: Design, gb: Design) -> list[Change]:
    """One 'module' change per definition added, removed or edited (a layer, a param, an argument): an edit inside a
    definition changes every instance, which no node of the top level shows."""
    ma, mb = ga.get("modules") or {}, gb.get("modules") or {}
    out = []
    for name in [*ma, *(k for k in mb if k not in ma)]:
        before, after = _definition(ma.get(name)), _definition(mb.get(name))
        if before == after:
            continue
        what = "added" if before is None else "removed" if after is None else "changed"
        users = sorted({n["id"] for g in (ga, gb) for n in g.get("nodes", []) if n.get("op") == name})
        text = f"module {name} {what}" + (f" (used by {', '.join(users[:4])}{' …' if len(users) > 4 else ''})"
                                          if users else "")
        out.append(Change("module", a_id=None, b_id=None, op=(name, name), before=copy.deepcopy(ma.get(name)),
                          after=copy.deepcopy(mb.get(name)), text=text))
    return out


# ---- carrying one change into a design ----
def _resolver(g: Design, change: Change):
    ids = {n["id"] for n in g["nodes"]}

    def resolve(b_id: Any) -> Any:
        """b's node id as this graph names it: a's id while a's node has not been renamed yet, else b's."""
        a_id = change.refs.get(b_id) if isinstance(b_id, str) else None
        return a_id if a_id is not None and a_id in ids else b_id
    return resolve


def _target(g: Design, change: Change) -> Design:
    for nid in (change.a_id, change.b_id):
        for n in g["nodes"]:
            if nid is not None and n["id"] == nid:
                return n
    raise ValueError(f"this change no longer applies: node '{change.a_id or change.b_id}' is not in the design "
                     f"any more. Diff the designs again.")


def apply_change(g: Design, change: Change) -> Design:
    """A new graph-file dict: `g` (design a, or a edited since the diff) with one change of b carried over. Raises
    ValueError naming the node when the change no longer applies (its node gone, or already there)."""
    out = copy.deepcopy(g)
    resolve = _resolver(out, change)
    ids = {n["id"] for n in out["nodes"]}
    kind = change.kind
    if kind == "removed":
        return delete_nodes(out, [_target(out, change)["id"]])
    if kind == "renamed":
        n = _target(out, change)
        if n["id"] == change.b_id:
            raise ValueError(f"'{change.b_id}' already has that name.")
        return rename_node(out, n["id"], change.b_id)
    if kind == "added":
        if change.b_id in ids:
            raise ValueError(f"the design already has a node '{change.b_id}'.")
        n = copy.deepcopy(change.node)
        if n.get("inputs"):
            n["inputs"] = [resolve(x) for x in n["inputs"]]
        for r in ref_params(n["op"]):
            if (n.get("params") or {}).get(r):
                n["params"][r] = resolve(n["params"][r])
        out["nodes"].append(n)  # outputs stay: a change of the outputs is its own change
        return out
    if kind == "changed":
        n = _target(out, change)
        n["op"] = change.node["op"]
        params = copy.deepcopy(change.node["params"])
        for r in ref_params(n["op"]):
            if params.get(r):
                params[r] = resolve(params[r])
        if params:
            n["params"] = params
        else:
            n.pop("params", None)
        return out
    if kind == "rewired":
        n = _target(out, change)
        inputs = [resolve(x) for x in change.node["inputs"]]
        if inputs:
            n["inputs"] = inputs
        else:
            n.pop("inputs", None)
        for r, v in change.node["refs"].items():
            if r in ref_params(n["op"]):
                n.setdefault("params", {})[r] = resolve(v) if v else v
        return out
    if kind == "outputs":
        out["outputs"] = [resolve(o) for o in change.after]
        return out
    if kind == "module":
        name = change.op[1]
        mods = out.setdefault("modules", {})
        if change.after is None:
            mods.pop(name, None)
        else:
            mods[name] = copy.deepcopy(change.after)
            out["version"] = max(2, out.get("version") or 1)
        return out
    if kind == "task":
        if change.after is None:
            out.pop("task", None)
        else:
            out["task"] = copy.deepcopy(change.after)
        return out
    raise ValueError(f"unknown change kind '{kind}'. Received: {change.kind!r}; known: {', '.join(KINDS)}.")


def apply_all(g: Design, d: Diff) -> Design:
    """Every change of `d`, in order: design a becomes design b (layout and name aside)."""
    for c in d.changes:
        g = apply_change(g, c)
    return g
