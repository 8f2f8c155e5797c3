"""Hostile graph files, one test per defect found by attacking Convas (issue 13): load_graph raises only
GraphError, check never raises, a graph that checks builds, and the messages name the limit (engine/limits.py)."""
from __future__ import annotations

import json
import os

import pytest

from engine import limits
from engine.codegen import build_module, to_python
from engine.errors import GraphError
from engine.graph import load_graph, load_graph_file, load_graph_text
from engine.shapes import check


def doc(nodes: list[dict], outputs: list[str]) -> dict:
    return {"format": "convas-graph", "version": 1, "nodes": nodes, "outputs": outputs}


def refused(source) -> list:
    """The issues load_graph gives; it must raise GraphError and nothing else."""
    with pytest.raises(GraphError) as e:
        load_graph(source)
    return e.value.issues


def messages(report) -> str:
    return "\n".join(str(i) for i in report.errors)


# ---- 1. deep nesting ----

def deep_list_text(depth: int) -> str:
    return '{"format": "convas-graph", "version": 1, "name": ' + "[" * depth + "]" * depth + ', "nodes": []}'


def deep_params(depth: int) -> dict:
    params: dict = {}
    cur = params
    for _ in range(depth):
        cur["a"] = {}
        cur = cur["a"]
    return doc([{"id": "x", "op": "Input", "params": {"shape": [4]}},
                {"id": "r", "op": "ReLU", "inputs": ["x"], "params": params}], ["r"])


@pytest.mark.parametrize("source", [deep_list_text(500), json.dumps(deep_params(340)), deep_params(340),
                                    deep_list_text(5000).encode()], ids=["list-text", "params-text", "params-dict",
                                                                         "bytes"])
def test_deep_nesting_is_refused_with_the_limit_by_load_and_check(source):
    (issue,) = refused(source)
    assert "nest" in issue.message and f"limit of {limits.MAX_NESTING}" in issue.message
    report = check(source)
    assert not report.ok and f"limit of {limits.MAX_NESTING}" in messages(report)


def test_nesting_up_to_the_limit_is_read_and_brackets_in_strings_do_not_count():
    ok = doc([{"id": "x" + "[" * 500, "op": "Input", "params": {"shape": [4]}}], ["x" + "[" * 500])
    assert load_graph(json.dumps(ok)).ids() == ["x" + "[" * 500]
    nested = deep_params(limits.MAX_NESTING - 4)  # top object, nodes list, node, params: 4 levels above
    assert "unknown parameter 'a'" in str(refused(json.dumps(nested))[0])


# ---- 2. text is never taken for a path ----

@pytest.mark.parametrize("text", ["/dev/zero", "/etc/passwd", "a\x00b", "design.json", ""])
def test_load_graph_text_never_opens_a_file(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "design.json").write_text(json.dumps(doc([{"id": "x", "op": "Input", "params": {"shape": [4]}}],
                                                         ["x"])))
    with pytest.raises(GraphError) as e:
        load_graph_text(text)
    assert "not a Convas graph file" in str(e.value) and "not valid JSON" in str(e.value)


def test_load_graph_of_a_path_refuses_devices_pipes_and_nul_bytes(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)  # no writer: opening it for reading would block forever
    for path in ["/dev/zero", fifo, str(fifo), "a\x00b", tmp_path]:
        (issue,) = refused(path)
        assert "cannot read graph file" in issue.message
    assert "not a regular file" in refused(fifo)[0].message
    assert not check(fifo).ok and "not a regular file" in messages(check(fifo))
    with pytest.raises(GraphError, match="not a regular file"):
        load_graph_file("/dev/zero")


def test_a_real_path_still_loads(tmp_path, template_path):
    assert load_graph(str(template_path("mnist_cnn"))).ids() == load_graph_file(template_path("mnist_cnn")).ids()


def test_an_over_large_file_is_refused_without_reading_it_all(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.graph.MAX_GRAPH_BYTES", 1000)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({**doc([], []), "name": "x" * 5000}))
    assert "over the limit" in refused(big)[0].message
    assert "over the limit" in refused(big.read_text())[0].message


# ---- 3. huge numbers ----

def one_layer(op: str, params: dict, shape=(1, 4, 4)) -> dict:
    return doc([{"id": "x", "op": "Input", "params": {"shape": list(shape)}},
                {"id": "r", "op": op, "inputs": ["x"], "params": params}], ["r"])


@pytest.mark.parametrize("op,name,value", [("Dropout", "p", 10**400), ("ELU", "alpha", 10**400),
                                           ("Upsample", "scale_factor", 10**400), ("Upsample", "scale_factor", 1e300),
                                           ("Linear", "out_features", -(10**30)), ("ELU", "alpha", [10**5000])],
                         ids=["dropout-1e400", "elu-1e400", "upsample-1e400", "upsample-1e300", "linear--1e30",
                              "list-1e5000"])
def test_a_huge_number_in_params_is_a_problem_naming_the_limit(op, name, value):
    g = one_layer(op, {name: value})
    issues = refused(g)
    assert any(i.node == "r" and i.field == f"params.{name}" and f"{limits.MAX_NUMBER:,}" in i.message
               for i in issues), issues
    report = check(g)
    assert not report.ok and report.nodes["r"].error
    with pytest.raises(GraphError):
        to_python(g)


def test_a_huge_number_in_text_is_refused_too():
    text = json.dumps(one_layer("Dropout", {"p": 1})).replace('"p": 1', '"p": 1' + "0" * 400)
    assert "too large" in refused(text)[0].message and not check(text).ok


def test_an_input_too_large_to_hold_is_refused_before_any_message_or_code_spells_its_size():
    g = doc([{"id": "x", "op": "Input", "params": {"shape": [100000] * 861}},
             {"id": "r", "op": "Reshape", "inputs": ["x"], "params": {"shape": [-1]}}], ["r"])
    report = check(g)
    assert not report.ok and f"limit of {limits.MAX_LIST}" in report.nodes["x"].error
    g["nodes"][0]["params"]["shape"] = [100000] * 8
    report = check(g)
    assert f"limit of {limits.MAX_ELEMENTS:,}" in report.nodes["x"].error and report.nodes["r"].blocked
    g["nodes"][0]["params"]["shape"] = [1] * (limits.MAX_RANK + 1)
    assert "dimensions, more than the limit" in check(g).nodes["x"].error
    with pytest.raises(GraphError):
        to_python(g)
    g["nodes"][0]["params"]["shape"] = [2] * limits.MAX_RANK  # at the limits: checks and compiles
    assert check(g).ok and check(g).nodes["r"].shape == (2**limits.MAX_RANK,)
    assert "r = x.reshape(x.shape[0], 256)  # (B, 256)" in to_python(g)


def test_a_layer_whose_output_is_too_large_is_refused():
    assert check(doc([{"id": "x", "op": "Input", "params": {"shape": [1, 65536, 65536]}}], ["x"])).ok  # 2^32
    report = check(one_layer("Upsample", {"scale_factor": 2}, shape=(1, 65536, 65536)))
    assert not report.ok and f"limit of {limits.MAX_ELEMENTS:,}" in report.nodes["r"].error


# ---- 4. a merge of thousands: check refuses what build_module could not compile ----

def merge(op: str, k: int) -> dict:
    nodes = [{"id": "x", "op": "Input", "params": {"shape": [4]}}]
    nodes += [{"id": f"r{i}", "op": "ReLU", "inputs": ["x"]} for i in range(k)]
    return doc(nodes + [{"id": "m", "op": op, "inputs": [f"r{i}" for i in range(k)]}], ["m"])


@pytest.mark.parametrize("op", ["Add", "Multiply", "Concat"])
def test_a_merge_over_the_input_limit_is_refused_by_check(op):
    report = check(merge(op, 3000))
    assert not report.ok and f"limit of {limits.MAX_INPUTS}" in report.nodes["m"].error
    assert any(f"limit of {limits.MAX_INPUTS}" in i.message for i in refused(merge(op, 3000)))


@pytest.mark.parametrize("op", ["Add", "Multiply", "Concat"])
def test_a_merge_at_the_input_limit_checks_and_builds(op):
    import torch

    g = merge(op, limits.MAX_INPUTS)
    assert check(g).ok
    model = build_module(g)
    x = torch.tensor([[1.0, 2.0, -1.0, 0.0], [0.5, 1.0, 3.0, -2.0]])  # sums and products exact in any order
    expect = {"Add": torch.relu(x) * limits.MAX_INPUTS, "Multiply": torch.relu(x) ** limits.MAX_INPUTS,
              "Concat": torch.relu(x).repeat(1, limits.MAX_INPUTS)}[op]
    torch.testing.assert_close(model(x), expect)


# ---- 5. "did you mean" stays cheap: bounded candidates, lengths and comparisons per check ----

@pytest.fixture
def comparisons(monkeypatch):
    """What difflib compares while the test runs: `.names` the names hints are sought for, and the list itself
    every candidate each one is compared with."""
    import difflib

    class Seen(list):
        names: list[str] = []

    seen = Seen()
    seen.names = []
    set1, set2 = difflib.SequenceMatcher.set_seq1, difflib.SequenceMatcher.set_seq2
    monkeypatch.setattr(difflib.SequenceMatcher, "set_seq1", lambda self, a: (seen.append(a), set1(self, a))[1])
    monkeypatch.setattr(difflib.SequenceMatcher, "set_seq2", lambda self, b: (seen.names.append(b), set2(self, b))[1])
    return seen


def repeated_chain(n: int) -> dict:
    """n ReLUs whose ids repeat after n/2: the second half's inputs name ids that do not exist, all alike."""
    nodes = [{"id": "x", "op": "Input", "params": {"shape": [4]}}]
    nodes += [{"id": f"node{k % (n // 2)}", "op": "ReLU", "inputs": [f"node{k - 1}" if k else "x"]} for k in range(n)]
    return doc(nodes, ["node1"])


CHAIN = 5000


@pytest.mark.parametrize("run", [load_graph, check], ids=["load_graph", "check"])
def test_suggestions_for_a_chain_of_repeated_ids_are_bounded(run, comparisons):
    budget = limits.MAX_HINT_COMPARISONS + limits.MAX_HINT_CANDIDATES
    try:
        run(repeated_chain(CHAIN))
    except GraphError as e:
        assert len(e.issues) == CHAIN - 1  # every duplicate and every dangling input is still reported
    assert len([c for c in comparisons if c.startswith("node")]) <= budget


def test_a_long_dangling_reference_is_not_compared(comparisons):
    g = repeated_chain(200)
    g["nodes"].append({"id": "far", "op": "ReLU", "inputs": ["n" * 100_000]})
    issue = next(i for i in check(g).errors if i.node == "far")
    assert "dangling" in issue.message and "Did you mean" not in issue.message
    assert all(len(c) <= limits.MAX_HINT_LENGTH for c in comparisons + comparisons.names)
    assert not any(len(i.message) > 1000 and "Did you mean" in i.message for i in check(g).errors)


def test_suggestions_still_find_typos_among_many_ids():
    nodes = [{"id": "x", "op": "Input", "params": {"shape": [4]}}]
    nodes += [{"id": f"layer_{k:04d}", "op": "ReLU", "inputs": ["x"]} for k in range(3000)]
    nodes += [{"id": "a", "op": "ReLU", "inputs": ["layer_1234x"]},  # a typo at the end: found by prefix
              {"id": "b", "op": "ReLU", "inputs": ["Xayer_2345"]}]  # at the start: found by suffix
    report = check(doc(nodes, ["a", "b"]))
    assert "Did you mean 'layer_1234'?" in report.nodes["a"].error
    assert "Did you mean 'layer_2345'?" in report.nodes["b"].error
    small = check(doc([{"id": "x", "op": "Input", "params": {"shape": [4]}},
                       {"id": "relu", "op": "ReLU", "inputs": ["x"]}], ["rleu"]))
    assert "Did you mean 'relu'?" in str(small.errors[0])


def test_a_design_over_the_node_limit_is_refused_whole(monkeypatch):
    monkeypatch.setattr("engine.graph.MAX_NODES", 100)
    g = repeated_chain(200)
    (issue,) = refused(g)
    assert "201 nodes, more than the limit of 100" in issue.message
    assert check(g).errors[0].message == issue.message
