"""One-click fixes for the common mistakes the shape rules recognise.

A shape rule that knows the remedy attaches it to its error as `Issue.fix`, a small dict:
    {"kind": "insert_before", "op": "Flatten", "params": {}}                     Linear fed C×H×W
    {"kind": "insert_before", "op": "Conv2d", "input": 1, "params": {...}}       Add with mismatched channels
    {"kind": "set_param", "param": "padding", "value": "same"}                   kernel larger than its input
A rule may attach a list of such dicts, alternatives offered side by side (a kernel larger than its input: padding
'same', or the largest kernel that fits, `note` saying so in the title).
`suggest_fixes` completes each with the node it applies to and a title for the button ("Insert Flatten before
fc1"), and keeps only the fixes that, applied, make their error go away. `apply_fix` returns a new Graph; the
one given is never changed.

Proving that a fix works costs O(1), not a check of the whole graph per fix: a fix changes only its node N (a
param, or a new node between N and one of its inputs), and N's shape rule reads only its inputs' shapes and dtypes,
which the fix leaves alone. So each fix is tried on N's neighbourhood: N fed by Input nodes with its inputs' ids,
shapes and dtypes. Where that stand-in does not reproduce N's error first (an input too large for an Input node,
a rule that reads a referenced node such as MaxUnpool2d's pool), the fix is tried on the whole graph instead.
"""
from __future__ import annotations

import copy
from typing import Any

from engine.catalog import get_op
from engine.errors import GraphError, Issue
from engine.graph import UI, Graph, Node, parse
from engine.shapes import Report, check

KINDS = ("insert_before", "set_param")


def suggest_fixes(g: Any, report: Report | None = None) -> list[dict[str, Any]]:
    """The fixes to offer for g's errors, each {"kind", "node", "title", "issue", ...}, in error order."""
    g = _as_graph(g)
    report = report or check(g)
    fixes: list[dict[str, Any]] = []
    local: dict[str, Graph | None] = {}  # node id -> the neighbourhood its fixes are tried on (None: whole graph)
    for issue, offered in ((i, f) for i in report.errors for f in _offered(i)):
        if not issue.node or not isinstance(offered, dict) or offered.get("kind") not in KINDS:
            continue
        fix = {**copy.deepcopy(offered), "node": issue.node, "issue": issue.message}
        try:
            fix["title"] = title(g, fix)
            if issue.node not in local:
                local[issue.node] = _neighbourhood(g, issue.node, report)
            trial = local[issue.node]
            if trial is None or not _has(check(trial), issue):
                trial = g  # the stand-in does not see what the whole graph sees: judge on the whole graph
            fixed = check(apply_fix(trial, fix))
        except (KeyError, IndexError, ValueError, TypeError):
            continue  # a fix that does not fit this graph is not offered
        if not _has(fixed, issue):
            fixes.append(fix)
    return fixes


def _offered(issue: Issue) -> list[Any]:
    """An issue's fixes: one dict, or a list of alternatives (a kernel too large: padding 'same', or the largest
    kernel that fits), in the order the buttons show them."""
    if not issue.fix:
        return []
    return list(issue.fix) if isinstance(issue.fix, list) else [issue.fix]


def _has(report: Report, issue: Issue) -> bool:
    return any(e.node == issue.node and e.message == issue.message for e in report.errors)


def _neighbourhood(g: Graph, node_id: str, report: Report) -> Graph | None:
    """Node `node_id` fed by stand-in Input nodes (same ids, shapes and dtypes as its inputs): everything its shape
    rule reads. None when the rule reads more (a referenced node) or an input's shape is unknown."""
    node = g.node(node_id)
    if get_op(node.op).ref_params:
        return None
    stand_ins = []
    for src in dict.fromkeys(node.inputs):  # one stand-in per distinct input (Add(x, a, x) reads x twice)
        r = report.nodes.get(src)
        if r is None or r.shape is None:
            return None
        stand_ins.append(Node(id=src, op="Input", params={"shape": list(r.shape), "dtype": r.dtype}))
    return Graph(name=g.name, nodes=stand_ins + [node.model_copy(deep=True)], outputs=[node_id])


def title(g: Graph, fix: dict[str, Any]) -> str:
    """The button text: what the fix does, to which node."""
    node = fix["node"]
    if fix["kind"] == "set_param":
        note = f" ({fix['note']})" if fix.get("note") else ""
        return f"Set {fix['param']} of {node} to {fix['value']!r}{note}"
    what = _describe(fix["op"], fix.get("params") or {})
    i = fix.get("input", 0)
    if len(g.node(node).inputs) > 1:
        return f"Insert {what} on input {i + 1} of {node}"
    return f"Insert {what} before {node}"


def _describe(op: str, params: dict[str, Any]) -> str:
    """How the op names a new node with these params (OpSpec.describe), e.g. 'a 1×1 Conv2d with 16 filters'."""
    spec = get_op(op)
    p, problems = spec.normalise(params)
    return op if problems else spec.title(p)


def apply_fix(g: Any, fix: dict[str, Any]) -> Graph:
    """A new Graph with the fix applied (the node is named by fix["node"])."""
    g = _as_graph(g).model_copy(deep=True)
    target = g.node(fix["node"])
    kind = fix.get("kind")
    if kind == "set_param":
        target.params[fix["param"]] = copy.deepcopy(fix["value"])
        return g
    if kind != "insert_before":
        raise ValueError(f"unknown fix kind. Expected one of {', '.join(KINDS)}. Received: kind={kind!r}.")
    i = int(fix.get("input", 0))
    src_id = target.inputs[i]
    new = Node(id=_fresh_id(g, f"{fix['op'].lower()}_{target.id}"), op=fix["op"],
               params=copy.deepcopy(fix.get("params") or {}), inputs=[src_id],
               ui=_between(_ui_of(g, src_id), target.ui))
    target.inputs[i] = new.id
    g.nodes.insert(g.nodes.index(target), new)  # just before its user: a file in dependency order stays so
    return g


def _fresh_id(g: Graph, base: str) -> str:
    taken = set(g.ids())
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def _ui_of(g: Graph, node_id: str) -> UI | None:
    try:
        return g.node(node_id).ui
    except KeyError:
        return None


def _between(a: UI | None, b: UI | None) -> UI | None:
    """Halfway between the two nodes on the canvas; next to the one that has a position; else none."""
    if a and b:
        return UI(x=(a.x + b.x) / 2, y=(a.y + b.y) / 2)
    if a or b:
        p = a or b
        return UI(x=p.x + 40, y=p.y + (40 if a else -40))
    return None


def _as_graph(g: Any) -> Graph:
    graph, issues = parse(g)
    if graph is None:
        raise GraphError(issues)
    return graph
