"""Property-based tests of the graph file over generated hostile files (issue 13), with a fixed budget:
derandomized (the same examples every run, no example database), a bounded number of examples per property, and
hypothesis' deadline of 2 s per example.

- load_graph raises GraphError and nothing else, whatever it is given (text, bytes, dicts);
- check never raises;
- no example takes over 2 s (the deadline: hypothesis reports the example that exceeds it);
- a graph that checks compiles: to_python and build_module succeed (built on torch's meta device, so that a
  design of a billion parameters costs no memory).
"""
from __future__ import annotations

import json
import string
from datetime import timedelta

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import limits
from engine.catalog import get_op, list_ops
from engine.codegen import build_module, to_python
from engine.errors import GraphError
from engine.graph import load_graph, load_graph_text
from engine.shapes import check

BUDGET = settings(max_examples=150, derandomize=True, database=None, deadline=timedelta(seconds=2),
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much])

OPS = list_ops()
# ids that have broken something before: empty, blank, Python keywords and builtins, module attributes, names the
# generated file uses, NUL, non-ASCII, digits first, very long
NASTY_IDS = ["", " ", "x", "a", "b", "class", "self", "torch", "nn", "F", "Net", "forward", "training", "__init__",
             "print", "in put", "1abc", "a\x00b", "é", "日本", "x" * 300, "x.y", "'; import os #", "{}", "[]"]
SAFE_CHAIN_OPS = ["ReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "Identity", "Dropout", "LeakyReLU", "ELU", "Hardswish"]

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=12)
huge_numbers = st.sampled_from([10**400, -(10**400), 2**53 + 1, 2**63, 1e300, -1e300, 10**5000, 1e-300])


def param_value(prm) -> st.SearchStrategy:
    """A value for one param: usually within its range, sometimes anything at all."""
    lo = int(prm.min) if prm.min is not None else -4
    hi = int(min(prm.max, 64)) if prm.max is not None else 64
    good = {"int": st.integers(lo, max(lo, hi)), "float": st.floats(prm.min or 0.0, min(prm.max or 4.0, 4.0)),
            "bool": st.booleans(), "choice": st.sampled_from(prm.choices or [None]),
            "pair": st.integers(max(lo, 1), max(lo, 1, min(hi, 5))) | st.lists(st.integers(1, 5), min_size=2, max_size=2),
            "padding": st.integers(0, 3) | st.sampled_from(list(prm.choices or ("same", "valid"))),
            "shape": st.lists(st.integers(-1, 8), min_size=1, max_size=4), "node": st.sampled_from(NASTY_IDS[:8]),
            "str": st.text(max_size=8)}.get(prm.type, json_values)
    return st.one_of(good, good, good, huge_numbers, json_values)


@st.composite
def nodes(draw, ids: list[str]) -> dict:
    op = draw(st.sampled_from(OPS) | st.sampled_from(["Conv3d", "relu", "", "X" * 200, "__class__"]))
    node: dict = {"id": draw(st.sampled_from(ids))}
    if draw(st.integers(0, 20)):
        node["op"] = op
    if op in OPS and draw(st.booleans()):
        spec = get_op(op)
        chosen = draw(st.lists(st.sampled_from(spec.params), max_size=3, unique_by=lambda p: p.name)) \
            if spec.params else []
        node["params"] = {p.name: draw(param_value(p)) for p in chosen}
        if draw(st.integers(0, 9)) == 0:
            node["params"][draw(st.text(max_size=10))] = draw(json_values)
    elif draw(st.integers(0, 9)) == 0:
        node["params"] = draw(json_values)
    k = draw(st.sampled_from([0, 1, 1, 1, 2, 3, 300]))
    node["inputs"] = [draw(st.sampled_from(ids)) for _ in range(min(k, 3))] * (100 if k == 300 else 1)
    if draw(st.integers(0, 9)) == 0:
        node["ui"] = draw(st.dictionaries(st.sampled_from(["x", "y", "group", "comment", "z"]), json_values, max_size=3))
    if draw(st.integers(0, 19)) == 0:
        node[draw(st.text(max_size=6))] = draw(json_values)
    return node


@st.composite
def hostile_graphs(draw) -> dict:
    """Graph files that are almost right: the header mostly valid, nodes with nasty ids, ops and params."""
    ids = draw(st.lists(st.sampled_from(NASTY_IDS) | st.text(string.printable, max_size=12), min_size=1,
                        max_size=8))
    g: dict = {"format": draw(st.sampled_from(["convas-graph"] * 8 + ["keras", 1])),
               "version": draw(st.sampled_from([1] * 8 + [2, 0, True, "1", 1.0]))}
    g["nodes"] = [{"id": ids[0], "op": "Input", "params": {"shape": draw(param_value(get_op("Input").param("shape")))}}]
    g["nodes"] += draw(st.lists(nodes(ids), max_size=8))
    g["outputs"] = draw(st.lists(st.sampled_from(ids), max_size=3))
    if draw(st.booleans()):
        g["name"] = draw(st.text(max_size=20) | json_values)
    if draw(st.integers(0, 4)) == 0:
        g["task"] = draw(st.dictionaries(st.sampled_from(["kind", "num_classes", "x"]), json_values, max_size=2))
    if draw(st.integers(0, 9)) == 0:
        g[draw(st.text(max_size=6))] = draw(json_values)
    return g


@st.composite
def chains(draw) -> dict:
    """Input → a chain of ops, most of which check: so that the build property is exercised, not only refusals."""
    shape = draw(st.sampled_from([[8], [3, 8, 8], [1, 12, 12], [4, 6], [2, 5, 7]]))
    g_nodes = [{"id": "input", "op": "Input", "params": {"shape": shape}}]
    for i in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(SAFE_CHAIN_OPS) | st.sampled_from(OPS))
        params = {}
        if get_op(op).params and draw(st.booleans()):
            prm = draw(st.sampled_from(get_op(op).params))
            params[prm.name] = draw(param_value(prm))
        node = {"id": draw(st.sampled_from([f"n{i}", f"n{i}", NASTY_IDS[i % len(NASTY_IDS)]])), "op": op,
                "params": params, "inputs": [g_nodes[-1]["id"]]}
        if get_op(op).min_inputs >= 2:
            node["inputs"] = [g_nodes[-1]["id"]] * draw(st.integers(2, 4))
        if get_op(op).min_inputs == 0:
            continue
        g_nodes.append(node)
    if draw(st.booleans()):
        g_nodes += [{"id": "flat", "op": "Flatten", "inputs": [g_nodes[-1]["id"]]},
                    {"id": "head", "op": "Linear", "params": {"out_features": draw(st.integers(1, 10))},
                     "inputs": ["flat"]}]
    return {"format": "convas-graph", "version": 1, "nodes": g_nodes, "outputs": [g_nodes[-1]["id"]]}


def as_file(draw, g: dict):
    """The graph as a caller may hand it over: a dict, JSON text, bytes, or text damaged on the way."""
    how = draw(st.sampled_from(["dict", "text", "bytes", "cut", "nest"]))
    if how == "dict":
        return g
    try:
        text = json.dumps(g, ensure_ascii=draw(st.booleans()))
    except ValueError:  # an int over Python's 4,300-digit string limit: hand the dict over instead
        return g
    if how == "bytes":
        return text.encode("utf-8")
    if how == "cut":
        return text[:draw(st.integers(0, len(text)))] or "{"
    if how == "nest":
        depth = draw(st.sampled_from([limits.MAX_NESTING - 6, limits.MAX_NESTING + 1, 400, 2000]))
        return text.replace('"nodes": [', '"nodes": [' + "[" * depth + "]" * depth + ", ", 1)
    return text


@st.composite
def sources(draw):
    return as_file(draw, draw(hostile_graphs() | chains()))


# warm-up outside the deadline: the first compile and the first module build import and initialise torch parts
build_module({"format": "convas-graph", "version": 1, "outputs": ["r"],
              "nodes": [{"id": "i", "op": "Input", "params": {"shape": [4]}},
                        {"id": "r", "op": "ReLU", "inputs": ["i"]}]})


@BUDGET
@given(sources())
def test_load_graph_raises_only_graph_error(source):
    try:
        load_graph(source)
    except GraphError:
        pass


@BUDGET
@given(st.text(max_size=200) | st.binary(max_size=200).map(bytes))
def test_any_text_or_bytes_is_a_graph_error_at_most(text):
    try:
        load_graph_text(text)
    except GraphError:
        pass
    check(text)


@BUDGET
@given(sources())
def test_check_never_raises_and_a_graph_that_checks_builds(source):
    report = check(source)
    if report.ok:
        to_python(source)
        with torch.device("meta"):
            build_module(source)


@settings(BUDGET, max_examples=60)
@given(chains())
def test_chains_that_check_build_and_run(g):
    report = check(g)
    if not report.ok:
        return
    model = build_module(g).eval()
    shape = report.nodes["input"].shape
    with torch.no_grad():
        out = model(torch.rand(2, *shape))
    assert tuple(out.shape[1:]) == report.nodes[g["outputs"][0]].shape
