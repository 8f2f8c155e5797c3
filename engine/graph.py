"""The graph file: the one thing the canvas and the engine exchange.

A design is a versioned JSON document (see docs/graph-format.md). `parse` turns JSON into a Graph, collecting
problems instead of stopping at the first; `validate` adds the semantic checks (ops, params, wiring, cycles);
`load_graph` does both and raises GraphError listing every problem.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.catalog import get_op, has_op, list_ops
from engine.catalog.registry import _closest
from engine.errors import GraphError, Issue

FORMAT = "convas-graph"
VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UI(_Strict):
    """Where the canvas draws a node; never reaches the model."""

    x: float = 0.0
    y: float = 0.0
    group: str | None = None  # composite block the node was inserted with (e.g. "inception3a")
    comment: str | None = None


class Node(_Strict):
    id: str
    op: str
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[str] = Field(default_factory=list)
    ui: UI | None = None


class Task(_Strict):
    kind: Literal["classification", "segmentation"] = "classification"
    num_classes: int = Field(10, ge=1)


class Graph(_Strict):
    format: Literal["convas-graph"] = FORMAT
    version: int = VERSION
    name: str = "untitled"
    nodes: list[Node] = Field(default_factory=list)
    outputs: list[str] = Field(default_factory=list)
    task: Task | None = None

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def ids(self) -> list[str]:
        return [n.id for n in self.nodes]

    def to_dict(self) -> dict[str, Any]:
        d = self.model_dump(exclude_none=True)
        for n in d["nodes"]:  # keep files short: omit empty fields
            if not n["params"]:
                del n["params"]
            if not n["inputs"]:
                del n["inputs"]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _loc_to_issue(data: Any, err: dict) -> Issue:
    loc = list(err["loc"])
    node = None
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        try:
            node = data["nodes"][loc[1]].get("id") or f"nodes[{loc[1]}]"
        except Exception:
            node = f"nodes[{loc[1]}]"
        loc = loc[2:]
    field = ".".join(str(x) for x in loc) or None
    kind = err["type"]
    if kind == "extra_forbidden":
        msg = f"unknown field '{loc[-1]}'. Remove it (this build reads graph format version {VERSION})."
    elif kind == "missing":
        msg = f"required field '{loc[-1]}' is missing."
    else:
        msg = f"{err['msg']}. Received: {err.get('input')!r}."
    return Issue(msg, node=node, field=field)


def parse(data: Any) -> tuple[Graph | None, list[Issue]]:
    """JSON text, a dict, or a Graph -> (Graph or None, structural problems)."""
    if isinstance(data, Graph):
        return data, []
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            return None, [Issue(f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}.")]
    if not isinstance(data, dict):
        return None, [Issue(f"a graph file must be a JSON object. Received: {type(data).__name__}.")]
    if data.get("format") != FORMAT:
        return None, [Issue(f"not a Convas graph: 'format' must be '{FORMAT}'. Received: {data.get('format')!r}.",
                            field="format")]
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        return None, [Issue(f"this graph file is version {version}, newer than this build of Convas reads "
                            f"(version {VERSION}). Update Convas to open it.", field="version")]
    if version != VERSION:
        return None, [Issue(f"'version' must be {VERSION}. Received: {version!r}.", field="version")]
    try:
        return Graph.model_validate(data), []
    except ValidationError as e:
        return None, [_loc_to_issue(data, err) for err in e.errors()]


def validate(g: Graph) -> list[Issue]:
    """Every semantic problem at once: ops, params, wiring, arity, cycles, outputs."""
    ids = {n.id for n in g.nodes}
    issues = graph_issues(g)
    for n in g.nodes:
        issues.extend(node_issues(g, n, ids))
    return issues


def graph_issues(g: Graph) -> list[Issue]:
    """Problems of the graph as a whole: empty or duplicate ids, no Input, outputs, cycles."""
    issues: list[Issue] = []
    seen: set[str] = set()
    for n in g.nodes:
        if not n.id or not n.id.strip():
            issues.append(Issue("node id must not be empty.", node=repr(n.id), field="id"))
        elif n.id in seen:
            issues.append(Issue(f"duplicate node id '{n.id}'. Every node needs its own id.", node=n.id, field="id"))
        seen.add(n.id)
    if not any(n.op == "Input" for n in g.nodes):
        issues.append(Issue("the graph has no Input node. Add one and set its shape (e.g. [1, 28, 28]).",
                            field="nodes"))
    if not g.outputs:
        issues.append(Issue("'outputs' is empty. Name the node(s) whose result the network returns.",
                            field="outputs"))
    for o in g.outputs:
        if o not in seen:
            issues.append(Issue(f"output '{o}' is not a node id.", field="outputs"))
    for cyc in find_cycle_nodes(g):
        issues.append(Issue("is part of a cycle: a node cannot depend on its own output.", node=cyc, field="inputs"))
    return issues


def node_issues(g: Graph, n: Node, ids: set[str]) -> list[Issue]:
    """Problems local to one node: op, params, inputs, arity."""
    out: list[Issue] = []
    if not has_op(n.op):
        hint = _closest(n.op, list_ops())
        out.append(Issue(f"unknown op '{n.op}'." + (f" Did you mean '{hint}'?" if hint else "")
                         + " See docs/layers.md for the catalog.", node=n.id, field="op"))
        return out
    spec = get_op(n.op)
    _, problems = spec.normalise(n.params)
    out.extend(Issue(p.message, node=n.id, field=f"params.{p.field}") for p in problems)
    for i, src in enumerate(n.inputs):
        if src not in ids:
            out.append(Issue(f"input {i + 1} '{src}' is not a node id (dangling connection).",
                             node=n.id, field="inputs"))
        elif src == n.id:
            out.append(Issue("a node cannot take its own output as input.", node=n.id, field="inputs"))
    k = len(n.inputs)
    if k < spec.min_inputs or (spec.max_inputs is not None and k > spec.max_inputs):
        need = spec.arity_text()
        verb = "is missing an input" if k < spec.min_inputs else "has too many inputs"
        out.append(Issue(f"{verb}: {n.op} takes {need} input(s) but has {k}.", node=n.id, field="inputs"))
    for prm in spec.params:  # node references (e.g. MaxUnpool2d's pool); choices name the allowed ops
        ref = n.params.get(prm.name)
        if prm.type != "node" or not isinstance(ref, str) or not ref:
            continue
        if ref not in ids:
            out.append(Issue(f"'{ref}' is not a node id.", node=n.id, field=f"params.{prm.name}"))
        elif prm.choices and g.node(ref).op not in prm.choices:
            out.append(Issue(f"'{ref}' is a {g.node(ref).op}; {prm.name} must name a {' or '.join(prm.choices)} "
                             f"node.", node=n.id, field=f"params.{prm.name}"))
    return out


def dependencies(g: Graph, n: Node) -> list[str]:
    """Inputs plus node references in params (a MaxUnpool2d depends on the pool whose indices it uses)."""
    deps = list(n.inputs)
    if has_op(n.op):
        for prm in get_op(n.op).params:
            ref = n.params.get(prm.name)
            if prm.type == "node" and isinstance(ref, str):
                deps.append(ref)
    return deps


def topo_order(g: Graph) -> list[str]:
    """Node ids in dependency order (stable: file order among ready nodes); nodes in cycles are left out."""
    ids = {n.id for n in g.nodes}
    pending = {n.id: {d for d in dependencies(g, n) if d in ids and d != n.id} for n in g.nodes}
    order: list[str] = []
    done: set[str] = set()
    progress = True
    while progress:
        progress = False
        for n in g.nodes:
            if n.id not in done and pending[n.id] <= done:
                order.append(n.id)
                done.add(n.id)
                progress = True
    return order


def find_cycle_nodes(g: Graph) -> list[str]:
    """Nodes on a cycle (not merely downstream of one)."""
    ids = {n.id for n in g.nodes}
    adj = {n.id: [d for d in dependencies(g, n) if d in ids] for n in g.nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    result: list[str] = []
    counter = [0]

    def strong(v: str) -> None:  # Tarjan, iterative enough for the sizes we see (recursion limit raised below)
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in adj[v]:
                result.extend(sorted(comp))

    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 4 * len(adj) + 100))
    try:
        for v in adj:
            if v not in index:
                strong(v)
    finally:
        sys.setrecursionlimit(old)
    return result


def load_graph(source: str | os.PathLike | dict | Graph) -> Graph:
    """A path, JSON text, dict or Graph -> a valid Graph; raises GraphError listing every problem."""
    if isinstance(source, (os.PathLike, Path)) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise GraphError([Issue(f"cannot read graph file {path}: {e.strerror}.")]) from None
        source = text
    g, issues = parse(source)
    if g is None:
        raise GraphError(issues)
    issues = validate(g)
    if issues:
        raise GraphError(issues)
    return g


def save_graph(g: Graph, path: str | os.PathLike) -> None:
    """Write atomically (temp file + rename): a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(g.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
