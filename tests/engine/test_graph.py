"""The graph file: one test per class of problem, all problems at once, round trips, atomic saves, the schema."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

import engine
from engine.errors import GraphError
from engine.graph import VERSION, Graph, Node, load_graph, parse, save_graph, schema_text

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "assets" / "templates").glob("*.json"))
TEMPLATES = [p for p in TEMPLATES if p.name != "index.json"]
INPUT = {"id": "input", "op": "Input", "params": {"shape": [1, 28, 28]}}


def doc(*nodes: dict, outputs: list[str] | None = None, **top) -> dict:
    return {"format": "convas-graph", "version": 1, "nodes": [INPUT, *nodes],
            "outputs": outputs if outputs is not None else [nodes[-1]["id"] if nodes else "input"], **top}


def conv(nid: str, src: str = "input", **params) -> dict:
    return {"id": nid, "op": "Conv2d", "params": {"out_channels": 8, **params}, "inputs": [src]}


def issues_of(data) -> list:
    with pytest.raises(GraphError) as e:
        load_graph(data)
    return e.value.issues


def find(issues, node, field, *words):
    """The one issue naming this node and field, whose message contains every word."""
    hits = [i for i in issues if i.node == node and i.field == field and all(w in i.message for w in words)]
    assert hits, f"no issue at {node}.{field} with {words}; got:\n" + "\n".join(map(str, issues))
    return hits[0]


# ---- one test per class of problem ----------------------------------------------------------------------------

def test_unknown_op_suggests_the_closest():
    issues = issues_of(doc({"id": "c1", "op": "Conv2D", "inputs": ["input"]}))
    find(issues, "c1", "op", "unknown op 'Conv2D'", "Did you mean 'Conv2d'?")
    issues = issues_of(doc({"id": "p", "op": "maxpool2d", "inputs": ["input"]}))
    find(issues, "p", "op", "Did you mean 'MaxPool2d'?")


def test_unknown_parameter_suggests_the_closest():
    issues = issues_of(doc(conv("c1", kernal_size=3)))
    find(issues, "c1", "params.kernal_size", "unknown parameter 'kernal_size'", "Did you mean 'kernel_size'?")


def test_wrong_type():
    issues = issues_of(doc(conv("c1", out_channels="32")))
    find(issues, "c1", "params.out_channels", "whole number", "Received: out_channels='32'")
    issues = issues_of(doc(conv("c1", bias="yes")))
    find(issues, "c1", "params.bias", "true or false")


def test_out_of_range():
    issues = issues_of(doc(conv("c1", out_channels=0)))
    find(issues, "c1", "params.out_channels", "≥ 1", "Received: out_channels=0")
    issues = issues_of(doc({"id": "d", "op": "Dropout", "params": {"p": 1.5}, "inputs": ["input"]}))
    find(issues, "d", "params.p", "≤ 1")


def test_non_finite_numbers_are_refused():
    data = doc({"id": "d", "op": "Dropout", "params": {"p": float("nan")}, "inputs": ["input"]})
    find(issues_of(data), "d", "params.p", "finite")
    text = json.dumps(doc({"id": "d", "op": "Dropout", "params": {"p": 0.5}, "inputs": ["input"]}))
    (issue,) = issues_of(text.replace("0.5", "NaN"))
    assert "not valid JSON" in issue.message and "NaN" in issue.message


def test_duplicate_id():
    issues = issues_of(doc(conv("c1"), conv("c1")))
    find(issues, "c1", "id", "duplicate node id 'c1'")


def test_empty_id_is_refused():
    issues = issues_of(doc(conv("")))
    assert any(i.field == "id" and "must not be empty" in i.message for i in issues)
    issues = issues_of(doc(conv("   ")))
    assert any(i.field == "id" and "must not be empty" in i.message for i in issues)


def test_missing_input():
    issues = issues_of(doc({"id": "c1", "op": "Conv2d", "params": {"out_channels": 4}}))
    find(issues, "c1", "inputs", "is missing an input", "takes 1 input(s) but has 0")


def test_dangling_input_suggests_the_closest_id():
    issues = issues_of(doc(conv("conv1"), {"id": "r", "op": "ReLU", "inputs": ["conv"]}))
    find(issues, "r", "inputs", "'conv' is not a node id (dangling connection)", "Did you mean 'conv1'?")


def test_wrong_number_of_inputs():
    issues = issues_of(doc(conv("a"), {"id": "r", "op": "ReLU", "inputs": ["input", "a"]}))
    find(issues, "r", "inputs", "has too many inputs", "ReLU takes 1 input(s) but has 2")
    issues = issues_of(doc({"id": "s", "op": "Add", "inputs": ["input"]}))
    find(issues, "s", "inputs", "is missing an input", "Add takes 2 or more input(s) but has 1")


def test_cycle_names_the_nodes_on_it_only():
    data = doc({"id": "a", "op": "ReLU", "inputs": ["b"]}, {"id": "b", "op": "ReLU", "inputs": ["a"]},
               {"id": "after", "op": "ReLU", "inputs": ["b"]})
    issues = issues_of(data)
    find(issues, "a", "inputs", "cycle")
    find(issues, "b", "inputs", "cycle")
    assert not any(i.node == "after" for i in issues)


def test_self_loop():
    issues = issues_of(doc({"id": "a", "op": "ReLU", "inputs": ["a"]}))
    find(issues, "a", "inputs", "cannot take its own output")


def test_no_input_node():
    data = {"format": "convas-graph", "version": 1, "nodes": [{"id": "r", "op": "ReLU", "inputs": []}], "outputs": ["r"]}
    issues = issues_of(data)
    assert any(i.field == "nodes" and "no Input node" in i.message for i in issues)


def test_outputs_must_name_nodes():
    find(issues_of(doc(conv("conv1"), outputs=["conv"])), None, "outputs", "not a node id", "Did you mean 'conv1'?")
    find(issues_of(doc(conv("conv1"), outputs=[])), None, "outputs", "empty")


def test_unknown_top_level_field():
    issues = issues_of(doc(conv("c1"), nodez=[]))
    find(issues, None, "nodez", "unknown field 'nodez'", "Did you mean 'nodes'?", f"version {VERSION}")


def test_unknown_node_and_ui_fields():
    node = {**conv("c1"), "input": ["input"], "ui": {"x": 1, "y": 2, "colour": "red"}}
    issues = issues_of(doc(node))
    find(issues, "c1", "input", "unknown field 'input'", "Did you mean 'inputs'?")
    find(issues, "c1", "ui.colour", "unknown field 'colour'")


def test_newer_version_names_the_version_this_build_reads():
    (issue,) = issues_of({**doc(conv("c1")), "version": 7, "future_field": 1})
    assert issue.field == "version"
    assert "version 7" in issue.message and f"(version {VERSION})" in issue.message and "Update Convas" in issue.message


@pytest.mark.parametrize("version", [0, True, "1", None, 1.0])
def test_version_must_be_the_integer_one(version):
    (issue,) = issues_of({**doc(conv("c1")), "version": version})
    assert issue.field == "version" and f"Received: {version!r}" in issue.message


def test_not_json_and_not_a_graph():
    (issue,) = issues_of('{"format": "convas-graph", "version": 1, "nodes": [}')
    assert "not valid JSON" in issue.message and "line 1" in issue.message
    (issue,) = issues_of("[1, 2]")
    assert "must be a JSON object" in issue.message and "list" in issue.message
    (issue,) = issues_of({"format": "keras", "version": 1})
    assert issue.field == "format" and "convas-graph" in issue.message


def test_unreadable_paths(tmp_path):
    (issue,) = issues_of(tmp_path / "missing.json")
    assert "cannot read graph file" in issue.message
    bad = tmp_path / "latin1.json"
    bad.write_bytes('{"name": "caf\xe9"}'.encode("latin-1"))
    (issue,) = issues_of(bad)
    assert "not UTF-8" in issue.message


def test_node_reference_params_are_checked():
    data = doc(conv("c1"), {"id": "u", "op": "MaxUnpool2d", "params": {"pool": "c1"}, "inputs": ["c1"]})
    find(issues_of(data), "u", "params.pool", "'c1' is a Conv2d", "MaxPool2d")
    data = doc(conv("c1"), {"id": "u", "op": "MaxUnpool2d", "params": {"pool": "pool9"}, "inputs": ["c1"]})
    find(issues_of(data), "u", "params.pool", "'pool9' is not a node id")


# ---- every problem at once --------------------------------------------------------------------------------------

def test_several_problems_are_all_reported_at_once_each_naming_node_and_field():
    data = doc(
        conv("c1", kernal_size=3),  # unknown parameter
        {"id": "c2", "op": "Conv2D", "inputs": ["c1"]},  # unknown op
        conv("c3", "c1", out_channels=-4),  # out of range
        {"id": "c3", "op": "ReLU", "inputs": ["c1"]},  # duplicate id
        {"id": "r", "op": "ReLU", "inputs": ["nowhere"]},  # dangling input
        {"id": "s", "op": "Add", "inputs": ["c1"]},  # too few inputs
        {"id": "u", "op": "ReLU", "inputs": ["c1"], "ui": {"x": 0, "y": 0, "size": 3}},  # unknown ui field
        {"id": "bad", "op": 5, "inputs": ["c1"]},  # wrong type for op: the node cannot be read
        {"id": "after_bad", "op": "ReLU", "inputs": ["bad"]},  # refers to it: must not be called dangling
        {"id": "a", "op": "ReLU", "inputs": ["b"]}, {"id": "b", "op": "ReLU", "inputs": ["a"]},  # cycle
        outputs=["s", "ghost"], comment="top-level typo",
    )
    issues = issues_of(data)
    find(issues, "c1", "params.kernal_size", "unknown parameter")
    find(issues, "c2", "op", "unknown op")
    find(issues, "c3", "params.out_channels", "≥ 1")
    find(issues, "c3", "id", "duplicate")
    find(issues, "r", "inputs", "dangling")
    find(issues, "s", "inputs", "missing an input")
    find(issues, "u", "ui.size", "unknown field")
    find(issues, "bad", "op", "valid string")
    find(issues, "a", "inputs", "cycle")
    find(issues, "b", "inputs", "cycle")
    find(issues, None, "outputs", "'ghost'")
    find(issues, None, "comment", "unknown field")
    assert not any(i.node == "after_bad" for i in issues), issues
    assert len(issues) == 12, "\n".join(map(str, issues))
    text = str(GraphError(issues))
    assert "12 problem(s)" in text and "c2.op: unknown op" in text


def test_a_node_that_is_not_an_object_is_reported_by_position():
    issues = issues_of(doc(conv("c1"), "oops", outputs=["c1"]))
    find(issues, "nodes[2]", None, "must be a JSON object")


def test_parse_keeps_its_contract():
    g, issues = parse(doc(conv("c1"), nodez=1))
    assert g is None and issues
    g, issues = parse(doc(conv("c1")))
    assert isinstance(g, Graph) and issues == []


# ---- round trip and atomic saves --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_templates_round_trip(path, tmp_path):
    g = load_graph(path)
    out = tmp_path / "copy.json"
    save_graph(g, out)
    assert load_graph(out) == g
    assert out.read_text(encoding="utf-8") == g.to_json()
    assert load_graph(g.to_json()) == g and load_graph(g.to_dict()) == g


NAMES = ["conv", "卷积", "café", "a-b", "x; import os", "1abc", "class", "with space", "emoji🙂", "q\"uote"]


def random_graph(rng: random.Random) -> dict:
    """A random valid graph file: chains and branches, odd ids, optional fields, ui positions and comments."""
    nodes = [{"id": "in", "op": "Input", "params": {"shape": [rng.randint(1, 4), rng.randint(8, 40), rng.randint(8, 40)]}}]
    for k in range(rng.randint(1, 25)):
        nid = f"{rng.choice(NAMES)}{k}"
        prev = [n["id"] for n in nodes]
        op = rng.choice(["Conv2d", "ReLU", "MaxPool2d", "Add", "Concat", "Dropout"])
        node = {"id": nid, "op": op}
        if op == "Conv2d":
            node["params"] = {"out_channels": rng.randint(1, 64), "kernel_size": rng.choice([1, 3, [3, 5]]),
                              "padding": rng.choice([0, 1, "same", "valid", [1, 2]]), "bias": rng.random() < 0.5}
        elif op == "MaxPool2d":
            node["params"] = {"kernel_size": 2, "ceil_mode": rng.random() < 0.5}
        elif op == "Dropout":
            node["params"] = {"p": round(rng.random(), 3)}
        node["inputs"] = rng.sample(prev, min(len(prev), 2)) if op in ("Add", "Concat") and len(prev) > 1 \
            else [rng.choice(prev)]
        if op in ("Add", "Concat") and len(node["inputs"]) < 2:
            node["inputs"] = node["inputs"] * 2
        if rng.random() < 0.8:
            node["ui"] = {"x": rng.uniform(-500, 500), "y": rng.uniform(0, 3000)}
            if rng.random() < 0.3:
                node["ui"]["comment"] = "note with \"quotes\", \\ and\nnewline " + rng.choice(NAMES)
        nodes.append(node)
    data = {"format": "convas-graph", "version": 1, "name": rng.choice(NAMES), "nodes": nodes,
            "outputs": [nodes[-1]["id"]]}
    if rng.random() < 0.5:
        data["task"] = {"kind": "classification", "num_classes": rng.randint(1, 1000)}
    tail = nodes[1:]
    rng.shuffle(tail)  # file order need not be dependency order
    nodes[1:] = tail
    return data


def test_random_graphs_round_trip(tmp_path):
    rng = random.Random(1234)
    for i in range(200):
        g = load_graph(random_graph(rng))
        out = tmp_path / f"g{i}.json"
        save_graph(g, out)
        assert load_graph(out) == g
        assert load_graph(json.loads(out.read_text(encoding="utf-8"))) == g


def test_save_is_atomic_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "design.json"
    old = load_graph(TEMPLATES[0])
    save_graph(old, path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_graph(load_graph(TEMPLATES[1]), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design.json"]  # no temp file left behind


def test_a_graph_that_cannot_be_written_leaves_the_old_file(tmp_path):
    path = tmp_path / "design.json"
    save_graph(load_graph(TEMPLATES[0]), path)
    before = path.read_bytes()
    bad = Graph(nodes=[Node(id="d", op="Dropout", params={"p": float("inf")})])  # not representable in JSON
    with pytest.raises(ValueError):
        save_graph(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design.json"]


def test_saved_file_permissions_follow_the_umask(tmp_path):
    path = tmp_path / "design.json"
    save_graph(load_graph(TEMPLATES[0]), path)
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


# ---- the JSON Schema -------------------------------------------------------------------------------------------

def test_committed_schema_is_the_generated_one():
    committed = (ROOT / "docs" / "graph.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), ("docs/graph.schema.json is stale; regenerate it with "
                                        "python -m engine docs")


def test_templates_validate_against_the_schema():
    schema = json.loads(schema_text())
    try:
        import jsonschema
    except ImportError:  # the schema text is still compared above; pydantic is the validator of record
        jsonschema = None
    for path in TEMPLATES:
        data = json.loads(path.read_text(encoding="utf-8"))
        Graph.model_validate(data)
        if jsonschema is not None:
            jsonschema.validate(data, schema)
    if jsonschema is not None:
        bad = json.loads(TEMPLATES[0].read_text(encoding="utf-8"))
        bad["nodes"][0]["colour"] = "red"
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**bad, "version": 3}, schema)


def test_the_example_in_the_format_doc_is_valid_and_right():
    text = (ROOT / "docs" / "graph-format.md").read_text(encoding="utf-8")
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    r = engine.check(load_graph(example))
    assert r.ok, r.errors
    assert (r.nodes["conv1"].shape, r.nodes["pool1"].shape, r.nodes["flat"].shape) == ((32, 28, 28), (32, 14, 14),
                                                                                      (6272,))
