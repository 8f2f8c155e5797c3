"""The live check's report: independent errors, blocked nodes, partial files, order, cycles, and never raising."""
from __future__ import annotations

import json
import random

import pytest
import torch

import engine
from engine.graph import Graph, find_cycle_nodes, load_graph, topo_order
from engine.shapes import check

INPUT = {"id": "input", "op": "Input", "params": {"shape": [3, 16, 16]}}


def doc(*nodes: dict, outputs: list[str]) -> dict:
    return {"format": "convas-graph", "version": 1, "nodes": [INPUT, *nodes], "outputs": outputs}


def chain(n: int) -> Graph:
    nodes = [INPUT] + [{"id": f"r{i}", "op": "ReLU", "inputs": [f"r{i - 1}" if i else "input"]} for i in range(n)]
    return load_graph({"format": "convas-graph", "version": 1, "nodes": nodes, "outputs": [f"r{n - 1}"]})


def test_independent_errors_are_all_reported_and_downstream_is_blocked():
    r = check(doc(
        {"id": "big", "op": "Conv2d", "params": {"out_channels": 4, "kernel_size": 17}, "inputs": ["input"]},
        {"id": "after_big", "op": "ReLU", "inputs": ["big"]},
        {"id": "fc", "op": "Linear", "params": {"out_features": 10}, "inputs": ["input"]},
        {"id": "ok", "op": "Conv2d", "params": {"out_channels": 4, "padding": 1}, "inputs": ["input"]},
        outputs=["after_big", "fc", "ok"]))
    assert not r.ok
    assert [e.node for e in r.errors] == ["big", "fc"]
    assert "kernel 17 is larger than the padded input height 16 (16 + 2·0)" in r.errors[0].message
    assert "Output would be (16 − 17 + 0)/1 + 1 = 0" in r.errors[0].message
    assert r.errors[0].field == "params.kernel_size"
    assert r.nodes["after_big"].blocked and r.nodes["after_big"].error is None and r.nodes["after_big"].shape is None
    assert r.nodes["ok"].shape == (4, 16, 16) and r.nodes["ok"].params == 4 * 3 * 9 + 4
    assert r.nodes["fc"].error and r.nodes["fc"].params == 0


def test_report_numbers_match_torch():
    g = load_graph("assets/templates/lenet5.json")
    r = check(g)
    m = engine.build_module(g)
    assert r.ok and r.total_params == sum(p.numel() for p in m.parameters()) == 61_706
    shapes = {}
    hooks = [getattr(m, name).register_forward_hook(lambda mod, i, o, name=name: shapes.__setitem__(name, o.shape))
             for name, _ in m.named_children()]
    m(torch.zeros(2, *r.nodes["input"].shape))
    for h in hooks:
        h.remove()
    for name, shape in shapes.items():
        assert tuple(shape[1:]) == r.nodes[name].shape, name


def test_structural_problems_do_not_hide_the_shapes_of_the_rest():
    data = doc({"id": "c", "op": "Conv2d", "params": {"out_channels": 4}, "inputs": ["input"]},
               {"id": "r", "op": "ReLU", "inputs": ["c"], "ui": {"x": 0, "y": 0, "colour": "red"}},
               {"id": "bad", "op": None, "inputs": ["c"]},
               {"id": "after_bad", "op": "ReLU", "inputs": ["bad"]},
               outputs=["r", "after_bad"])
    r = check(data)
    assert not r.ok
    assert r.nodes["c"].shape == (4, 14, 14)
    assert {(e.node, e.field) for e in r.errors} == {("r", "ui.colour"), ("bad", "op")}
    assert r.nodes["after_bad"].blocked and "bad" not in r.nodes


def test_cycles_mark_only_their_nodes_as_errors():
    r = check(doc({"id": "a", "op": "ReLU", "inputs": ["b"]}, {"id": "b", "op": "ReLU", "inputs": ["a"]},
                  {"id": "c", "op": "ReLU", "inputs": ["b"]}, {"id": "free", "op": "ReLU", "inputs": ["input"]},
                  outputs=["c", "free"]))
    assert sorted(e.node for e in r.errors) == ["a", "b"]
    assert r.nodes["c"].blocked and r.nodes["c"].error is None
    assert r.nodes["free"].shape == (3, 16, 16)


def test_report_to_dict_is_json_and_complete():
    r = check(doc({"id": "fc", "op": "Linear", "inputs": ["input"]}, outputs=["fc"]))
    d = json.loads(json.dumps(r.to_dict()))
    assert d["ok"] is False and d["nodes"]["input"]["shape"] == [3, 16, 16]
    assert d["errors"][0]["node"] == "fc" and d["errors"][0]["fix"]["op"] == "Flatten"
    assert set(d) == {"ok", "errors", "nodes", "total_params", "total_macs"}


def test_memory_estimate_counts_weights_gradients_optimizer_and_activations():
    r = check(doc({"id": "c", "op": "Conv2d", "params": {"out_channels": 2, "kernel_size": 1}, "inputs": ["input"]},
                  outputs=["c"]))
    m = r.memory_estimate(batch_size=10)
    assert m["weights"] == 8 * 4 and m["optimizer"] == 2 * 8 * 4
    assert m["activations"] == 2 * 16 * 16 * 10 * 4 * 2
    assert m["total"] == m["weights"] * 4 + m["activations"]


def test_topo_order_keeps_file_order_when_it_is_valid_and_sorts_otherwise():
    g = chain(50)
    assert topo_order(g) == g.ids()
    rev = Graph(nodes=list(reversed(g.nodes)), outputs=g.outputs)
    assert topo_order(rev) == g.ids()
    rng = random.Random(0)
    for _ in range(20):
        nodes = list(g.nodes)
        rng.shuffle(nodes)
        shuffled = Graph(nodes=nodes, outputs=g.outputs)
        assert topo_order(shuffled) == g.ids()  # a chain has one order only


def test_topo_order_among_ready_nodes_follows_the_file():
    data = doc({"id": "a", "op": "ReLU", "inputs": ["input"]}, {"id": "a2", "op": "ReLU", "inputs": ["a"]},
               {"id": "b", "op": "ReLU", "inputs": ["input"]}, {"id": "s", "op": "Add", "inputs": ["a2", "b"]},
               outputs=["s"])
    assert topo_order(load_graph(data)) == ["input", "a", "a2", "b", "s"]


def test_long_chains_and_rings_need_no_recursion():
    g = chain(20_000)  # reversed, so Kahn's algorithm cannot just read the file
    assert topo_order(Graph(nodes=g.nodes[::-1], outputs=g.outputs)) == g.ids()
    ring = g.model_copy(deep=True)
    ring.nodes[1].inputs = [ring.nodes[-1].id]  # r0 <- r19999: the whole chain becomes one cycle
    assert len(find_cycle_nodes(ring)) == 20_000
    r = check(ring)
    assert len(r.errors) == 20_000 and all("cycle" in e.message for e in r.errors)


def test_memoised_normalisation_keeps_json_types_apart():
    good = doc({"id": "c", "op": "Conv2d", "params": {"bias": True}, "inputs": ["input"]}, outputs=["c"])
    bad = doc({"id": "c", "op": "Conv2d", "params": {"bias": 1}, "inputs": ["input"]}, outputs=["c"])
    for _ in range(2):  # True == 1 and hash(True) == hash(1): a naive cache would answer one with the other
        assert check(good).ok
        assert [e.field for e in check(bad).errors] == ["params.bias"]


def test_normalised_params_are_copies():
    g = doc({"id": "c", "op": "Conv2d", "params": {"kernel_size": 3}, "inputs": ["input"]}, outputs=["c"])
    r = check(g)
    r.normalised["c"]["kernel_size"] = (99, 99)
    assert check(g).normalised["c"]["kernel_size"] == (3, 3)


@pytest.mark.parametrize("junk", [None, 5, "", "[]", "{", b"\xff\xfe", {"format": "convas-graph", "version": 1,
                                  "nodes": "x"}, {"format": "convas-graph", "version": 1, "nodes": [1, None, []]},
                                  {"format": "convas-graph", "version": 1, "outputs": {"a": 1}, "task": []}])
def test_check_never_raises_on_junk(junk):
    r = check(junk)
    assert not r.ok and r.errors


def test_check_never_raises_on_random_mutations():
    rng = random.Random(7)
    base = json.loads(open("assets/templates/lenet5.json", encoding="utf-8").read())
    values = [None, -1, 0, 3.5, "same", "x", [], [0], [1, 2, 3], {}, True, "input", 10**12]
    for _ in range(300):
        data = json.loads(json.dumps(base))
        for _ in range(rng.randint(1, 4)):
            node = rng.choice(data["nodes"])
            where = rng.choice(["param", "input", "op", "id", "drop"])
            if where == "param":
                node.setdefault("params", {})[rng.choice(["kernel_size", "out_channels", "padding", "stride",
                                                          "shape", "p", "zz"])] = rng.choice(values)
            elif where == "input":
                node["inputs"] = rng.sample([n["id"] for n in data["nodes"]], rng.randint(0, 2))
            elif where == "op":
                node["op"] = rng.choice(["Conv2d", "Linear", "Add", "Flatten", "MaxPool2d", "Nope", 3])
            elif where == "id":
                node["id"] = rng.choice(values + [n["id"] for n in data["nodes"]])
            else:
                data["nodes"].remove(node)
        r = check(data)  # must not raise
        assert isinstance(r.ok, bool)
        json.dumps(r.to_dict())


def test_cycle_nodes_match_a_brute_force_definition():
    """v is on a cycle iff v can be reached from one of its own dependencies."""
    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(2, 12)
        ids = [f"n{i}" for i in range(n)]
        nodes = [{"id": "input", "op": "Input", "params": {"shape": [1, 4, 4]}}]
        for nid in ids:
            k = rng.randint(2, 3)
            nodes.append({"id": nid, "op": "Add", "inputs": rng.sample(["input", *ids], k)})
        g = Graph.model_validate({"format": "convas-graph", "version": 1, "nodes": nodes, "outputs": [ids[-1]]})
        deps = {nd.id: [d for d in nd.inputs if d != nd.id] for nd in g.nodes}

        def reaches(start: str, goal: str, deps=deps) -> bool:
            seen, todo = set(), [start]
            while todo:
                v = todo.pop()
                if v == goal:
                    return True
                if v not in seen:
                    seen.add(v)
                    todo.extend(deps[v])
            return False

        want = [v for v in g.ids() if any(reaches(d, v) for d in deps[v])]
        assert find_cycle_nodes(g) == want
        order = topo_order(g)
        assert len(order) == len(set(order))
        pos = {v: i for i, v in enumerate(order)}
        assert all(pos[d] < pos[v] for v in order for d in deps[v])  # every ordered node after its inputs


def _token_graph(first_op: str, first_params: dict, dtype: str = "int64") -> dict:
    return {"format": "convas-graph", "version": 1, "nodes": [
        {"id": "tokens", "op": "Input", "params": {"shape": [12], "dtype": dtype}},
        {"id": "first", "op": first_op, "params": first_params, "inputs": ["tokens"]}],
        "outputs": ["first"]}


def test_token_ids_reach_only_an_embedding():
    import torch

    ok = engine.check(_token_graph("Embedding", {"num_embeddings": 50, "embedding_dim": 8}))
    assert ok.ok, ok.errors
    assert ok.nodes["tokens"].dtype == "int64" and ok.nodes["first"].dtype == "float32"
    m = engine.build_module(_token_graph("Embedding", {"num_embeddings": 50, "embedding_dim": 8}))
    assert tuple(m(torch.randint(0, 50, (2, 12))).shape[1:]) == ok.nodes["first"].shape

    bad = engine.check(_token_graph("Linear", {"out_features": 4}))
    assert not bad.ok and "Insert an Embedding" in bad.nodes["first"].error

    floats = engine.check(_token_graph("Embedding", {"num_embeddings": 50, "embedding_dim": 8}, dtype="float32"))
    assert not floats.ok and "Set the Input's dtype to int64" in floats.nodes["first"].error


def test_ops_that_pass_token_ids_keep_them_integers_in_torch_too():
    """Every op the catalog says passes token ids on (OpSpec.token_ids == "pass") really hands torch integers an
    Embedding can look up; any other op is refused with the fix named."""
    import torch

    from engine.catalog import get_op, list_ops

    passing = [op for op in list_ops() if get_op(op).token_ids == "pass"]
    assert {"Identity", "Reshape", "Flatten"} <= set(passing)
    for op in passing:
        g = _token_graph(op, {"shape": [-1]} if op == "Reshape" else {})
        g["nodes"].append({"id": "emb", "op": "Embedding", "params": {"num_embeddings": 50, "embedding_dim": 8},
                           "inputs": ["first"]})
        g["outputs"] = ["emb"]
        r = engine.check(g)
        assert r.ok, (op, r.errors)
        assert r.nodes["first"].dtype == "int64"
        out = engine.build_module(g)(torch.randint(0, 50, (2, 12)))
        assert tuple(out.shape[1:]) == r.nodes["emb"].shape, op
    refused = engine.check(_token_graph("ReLU", {}))
    assert "ReLU receives integer token ids from 'tokens'" in refused.nodes["first"].error
