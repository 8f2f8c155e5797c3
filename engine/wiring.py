"""The semantic checks of a graph: ops, params, wiring, arity, cycles, and the dependency order.

Every function reports every problem it finds (as Issues naming the node and field) instead of stopping at the
first, and none is quadratic in the number of nodes: the canvas runs them on every edit. engine.graph re-exports
them; import them from there.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Any, Protocol

from engine.catalog import get_op, has_op, list_ops
from engine.catalog.registry import _closest
from engine.errors import Issue, ParamError
from engine.limits import MAX_INPUTS, MAX_LIST, MAX_NUMBER
from engine.suggest import Suggester


class Node(Protocol):
    """What the checks read of a node (engine.graph.Node has it); typed structurally so this module, which
    engine.graph imports, never imports engine.graph back."""

    id: str
    op: str
    params: dict[str, Any]
    inputs: list[str]


class Graph(Protocol):
    """What the checks read of a graph (engine.graph.Graph has it)."""

    nodes: Sequence[Node]
    outputs: list[str]

_NORMALISED: dict[tuple, tuple[dict[str, Any], list[ParamError]]] = {}
_NORMALISED_MAX = 8192  # distinct (op, params) pairs kept; the canvas re-checks a mostly unchanged graph per edit


def _freeze(v: Any) -> Any:
    """A hashable key for a JSON value that keeps types apart (True, 1 and 1.0 normalise differently)."""
    if isinstance(v, (list, tuple)):
        return ("list", tuple(_freeze(x) for x in v))
    if isinstance(v, dict):
        return ("dict", tuple((k, _freeze(x)) for k, x in v.items()))
    return (type(v).__name__, v)


def normalise_params(op: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[ParamError]]:
    """The op's `normalise` (defaults filled, values coerced, problems listed), memoised on (op, params)."""
    key = (op, _freeze(params))
    hit = _NORMALISED.get(key)
    if hit is None:
        # values no op may read (they overflow floats, or run past int-to-string limits in messages) are refused
        # first; the op normalises the rest, so a refused value's default does not hide the other problems
        refused = [ParamError(k, why) for k, v in params.items() if (why := _out_of_range(k, v))]
        skip = {e.field for e in refused}
        p, problems = get_op(op).normalise({k: v for k, v in params.items() if k not in skip})
        problems = refused + problems
        bad = {e.field for e in problems}
        problems += [ParamError(k, f"{k} must be a finite number. Received: {k}={v!r}.")
                     for k, v in params.items() if k not in bad and _non_finite(v)]
        if len(_NORMALISED) >= _NORMALISED_MAX:
            _NORMALISED.clear()
        _NORMALISED[key] = hit = (p, problems)
    return dict(hit[0]), list(hit[1])


def _out_of_range(name: str, v: Any) -> str | None:
    """Why a raw param value is refused before its op reads it (a number over MAX_NUMBER, a list over MAX_LIST
    values), or None."""
    if isinstance(v, (list, tuple)):
        if len(v) > MAX_LIST:
            return f"{name} has {len(v):,} values, more than the limit of {MAX_LIST}."
        return next((why for x in v if (why := _out_of_range(name, x))), None)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if abs(v) <= MAX_NUMBER:
        return None
    size = f"a number of about {int(v.bit_length() * math.log10(2)) + 1:,} digits" if isinstance(v, int) else f"{v:.3g}"
    return (f"{name} is too large: numbers in params must lie between -{MAX_NUMBER:,} and {MAX_NUMBER:,} (2^53). "
            f"Received: {size}.")


def _non_finite(v: Any) -> bool:
    if isinstance(v, float):
        return not math.isfinite(v)
    return isinstance(v, (list, tuple)) and any(_non_finite(x) for x in v)


_REF_PARAMS: dict[str, tuple[str, ...]] = {}


def ref_params(op: str) -> tuple[str, ...]:
    """Names of the op's parameters that name another node (e.g. MaxUnpool2d's pool)."""
    names = _REF_PARAMS.get(op)
    if names is None:
        names = tuple(p.name for p in get_op(op).params if p.type == "node") if has_op(op) else ()
        _REF_PARAMS[op] = names
    return names


def validate(g: Graph, known_ids: set[str] | frozenset[str] = frozenset()) -> list[Issue]:
    """Every semantic problem at once: ops, params, wiring, arity, cycles, outputs.

    `known_ids` are ids of nodes that exist in the file but were dropped by `parse_partial` (their own problem is
    already reported), so that references to them are not reported again as dangling.
    """
    ids = {n.id for n in g.nodes} | set(known_ids)
    by_id: dict[str, Node] = {}
    for n in g.nodes:
        by_id.setdefault(n.id, n)
    hints = Suggester(ids)  # one budget for every "did you mean" of this check
    issues = graph_issues(g, ids=ids, hints=hints)
    for n in g.nodes:
        issues.extend(inspect_node(n, ids, by_id, hints)[0])
    return issues


def graph_issues(g: Graph, order: list[str] | None = None, ids: set[str] | None = None,
                 hints: Suggester | None = None) -> list[Issue]:
    """Problems of the graph as a whole: empty or duplicate ids, no Input, outputs, cycles. `hints` (shared by
    the checks of one pass) suggests ids for dangling names."""
    issues: list[Issue] = []
    seen: set[str] = set()
    for n in g.nodes:
        if not n.id or not n.id.strip():
            issues.append(Issue("node id must not be empty. Give the node a name such as 'conv1'.",
                                node=repr(n.id), field="id"))
        elif n.id in seen:
            issues.append(Issue(f"duplicate node id '{n.id}'. Every node needs its own id.", node=n.id, field="id"))
        seen.add(n.id)
    ids = seen if ids is None else ids
    hints = hints or Suggester(ids)
    if not any(n.op == "Input" for n in g.nodes):
        issues.append(Issue("the graph has no Input node. Add one and set its shape (e.g. [1, 28, 28]).",
                            field="nodes"))
    if not g.outputs:
        issues.append(Issue("'outputs' is empty. Name the node(s) whose result the network returns.",
                            field="outputs"))
    for o in g.outputs:
        if o not in ids:
            issues.append(Issue(f"output '{o}' is not a node id." + _did_you_mean(o, hints), field="outputs"))
    order = topo_order(g) if order is None else order
    if len(order) < len(seen):  # Kahn's order leaves out cycles and what depends on them; find the cycles only then
        for cyc in find_cycle_nodes(g):
            issues.append(Issue("is part of a cycle: a node cannot depend on its own output.", node=cyc,
                                field="inputs"))
    return issues


def _did_you_mean(name: str, hints: Suggester) -> str:
    hint = hints.closest(name)
    return f" Did you mean '{hint}'?" if hint else ""


def node_issues(g: Graph, n: Node, ids: set[str]) -> list[Issue]:
    """Problems local to one node: op, params, inputs, arity, node references."""
    by_id: dict[str, Node] = {}
    for m in g.nodes:
        by_id.setdefault(m.id, m)
    return inspect_node(n, ids, by_id)[0]


def inspect_node(n: Node, ids: set[str], by_id: dict[str, Node],
                 hints: Suggester | None = None) -> tuple[list[Issue], dict[str, Any] | None]:
    """(problems local to the node, its normalised params or None when they have problems). Pass one `hints` for
    all the nodes of a check: it bounds the work spent on "did you mean" suggestions."""
    if not has_op(n.op):
        hint = next((o for o in list_ops() if o.lower() == n.op.lower()), None) or _closest(n.op, list_ops())
        return [Issue(f"unknown op '{n.op}'." + (f" Did you mean '{hint}'?" if hint else "")
                      + " See docs/layers.md for the catalog.", node=n.id, field="op")], None
    spec = get_op(n.op)
    p, problems = normalise_params(n.op, n.params)
    out = [Issue(e.message, node=n.id, field=f"params.{e.field}") for e in problems]
    hints = hints or Suggester(ids)
    for i, src in enumerate(n.inputs):
        if src not in ids:
            out.append(Issue(f"input {i + 1} '{src}' is not a node id (dangling connection)."
                             + _did_you_mean(src, hints), node=n.id, field="inputs"))
        elif src == n.id:
            out.append(Issue("a node cannot take its own output as input.", node=n.id, field="inputs"))
    k = len(n.inputs)
    if k < spec.min_inputs or (spec.max_inputs is not None and k > spec.max_inputs):
        verb = "is missing an input" if k < spec.min_inputs else "has too many inputs"
        out.append(Issue(f"{verb}: {n.op} takes {spec.arity_text()} input(s) but has {k}.", node=n.id,
                         field="inputs"))
    elif k > MAX_INPUTS:  # a merge of thousands compiles to an expression Python's compiler cannot nest
        out.append(Issue(f"has too many inputs: {k:,}, more than the limit of {MAX_INPUTS} per node. Merge them in "
                         f"stages: {n.op} groups of inputs, then {n.op} the results.", node=n.id, field="inputs"))
    for name in ref_params(n.op):  # node references; the Param's choices name the allowed ops
        ref = n.params.get(name)
        if not isinstance(ref, str) or not ref:
            continue
        if ref not in ids:
            out.append(Issue(f"'{ref}' is not a node id." + _did_you_mean(ref, hints), node=n.id,
                             field=f"params.{name}"))
        elif ref in by_id and spec.param(name).choices and by_id[ref].op not in spec.param(name).choices:
            out.append(Issue(f"'{ref}' is a {by_id[ref].op}; {name} must name a "
                             f"{' or '.join(spec.param(name).choices)} node.", node=n.id, field=f"params.{name}"))
    return out, (None if problems else p)


def dependencies(g: Graph, n: Node) -> list[str]:
    """Inputs plus node references in params (a MaxUnpool2d depends on the pool whose indices it uses)."""
    deps = list(n.inputs)
    for name in ref_params(n.op):
        ref = n.params.get(name)
        if isinstance(ref, str):
            deps.append(ref)
    return deps


def topo_order(g: Graph) -> list[str]:
    """Node ids in dependency order; nodes in or downstream of a cycle are left out.

    Kahn's algorithm with a heap of file positions: among the ready nodes the earliest in the file goes first, so
    a file already in dependency order comes back in file order. O(E + V log V). Only the first of duplicate ids
    counts; self-references are ignored here (node_issues reports them).
    """
    nodes = g.nodes
    first: dict[str, int] = {}
    for i, n in enumerate(nodes):
        first.setdefault(n.id, i)
    indegree = [0] * len(nodes)
    users: list[list[int]] = [[] for _ in nodes]
    ready: list[int] = []
    for i, n in enumerate(nodes):
        if first[n.id] != i:
            continue
        for d in set(dependencies(g, n)):
            j = first.get(d)
            if j is not None and j != i:
                indegree[i] += 1
                users[j].append(i)
        if not indegree[i]:
            ready.append(i)  # ascending, so already a heap
    order: list[str] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i].id)
        for u in users[i]:
            indegree[u] -= 1
            if not indegree[u]:
                heapq.heappush(ready, u)
    return order


def find_cycle_nodes(g: Graph) -> list[str]:
    """Ids of the nodes on a cycle (not merely downstream of one), in file order."""
    pos: dict[str, int] = {}
    for i, n in enumerate(g.nodes):
        pos.setdefault(n.id, i)
    adj = {nid: [d for d in dependencies(g, g.nodes[i]) if d in pos and d != nid] for nid, i in pos.items()}
    return sorted((v for comp in cycles(adj) for v in comp), key=pos.__getitem__)


def cycles(adj: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of a directed graph (vertex -> its successors) that hold more than one
    vertex: each is a set of vertices that reach one another round a loop. Iterative Tarjan: no recursion limit on
    long chains."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in adj:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(adj[root]))]
        while work:
            v, edges = work[-1]
            for w in edges:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(adj.get(w, ()))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:  # every edge of v done
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found
