"""engine.diff on random mutations of the templates: every mutation is found, nothing else is reported, and applying
every change to design a gives design b. Plus the counts (against torch), apply_change out of order, and the CLI."""
from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
import torch

import engine
from engine.__main__ import main
from engine.diff import Change, apply_all, apply_change, diff
from engine.edit import rename_node
from engine.module_edit import inline

ROOT = Path(__file__).resolve().parents[2]
# the modular templates as they ship (mutations of the top level: instances, stems, heads) and inlined ("flat:"),
# where the mutations reach every layer of the blocks (branches, concatenations, shortcuts)
TEMPLATES = ["mnist_cnn", "lenet5", "resnet18", "googlenet", "unet", "squeezenet1_0", "nin", "vgg16",
             "flat:resnet18", "flat:googlenet", "flat:unet", "flat:squeezenet1_0", "flat:nin"]
SWAPS = {"ReLU": "Tanh", "Tanh": "ReLU", "MaxPool2d": "AvgPool2d", "AvgPool2d": "MaxPool2d", "Dropout": "Identity"}


def template(name: str) -> dict:
    flat, _, name = name.rpartition(":")
    g = engine.load_graph(ROOT / "assets" / "templates" / f"{name}.json").to_dict()
    while flat and (instances := [n["id"] for n in g["nodes"] if n["op"] in g.get("modules", {})]):
        for iid in instances:
            g = inline(g, iid)
    return {k: v for k, v in g.items() if k != "modules"} if flat else g


def node(g: dict, nid: str) -> dict:
    return next(n for n in g["nodes"] if n["id"] == nid)


def readers(g: dict, nid: str) -> list[str]:
    return [n["id"] for n in g["nodes"] if nid in n.get("inputs", [])]


def order(g: dict) -> list[str]:
    return engine.check(g).order


def canon(g: dict) -> tuple:
    """What makes two designs the same network (the oracle, independent of engine.diff): per node its op, its
    normalised params and its inputs; the outputs and the task. Layout, file order and name left out."""
    r = engine.check(g)
    nodes = {n["id"]: (n["op"], json.dumps(r.normalised.get(n["id"], n.get("params", {})), sort_keys=True,
                                           default=str), n.get("inputs", [])) for n in g["nodes"]}
    return nodes, g.get("outputs"), g.get("task")


# ---- mutations: each returns (b, the changes a diff must report as {(kind, a_id, b_id)}) ----
def m_add(rng: random.Random, g: dict, k: int):
    src = rng.choice([n["id"] for n in g["nodes"] if readers(g, n["id"])])
    reader = rng.choice(readers(g, src))
    new = f"new{k}"
    b = copy.deepcopy(g)
    b["nodes"].append({"id": new, "op": "Dropout", "params": {"p": 0.25}, "inputs": [src]})
    node(b, reader)["inputs"] = [new if s == src else s for s in node(b, reader)["inputs"]]
    return b, {("added", None, new), ("rewired", reader, reader)}


def m_remove(rng: random.Random, g: dict, k: int):
    ok = [n["id"] for n in g["nodes"] if len(n.get("inputs", [])) == 1 and n["id"] not in g["outputs"]
          and readers(g, n["id"])]
    x = rng.choice(ok)
    src = node(g, x)["inputs"][0]
    b = copy.deepcopy(g)
    b["nodes"] = [n for n in b["nodes"] if n["id"] != x]
    for n in b["nodes"]:
        if x in n.get("inputs", []):
            n["inputs"] = [src if s == x else s for s in n["inputs"]]
    return b, {("removed", x, None)} | {("rewired", r, r) for r in readers(g, x)}


def m_param(rng: random.Random, g: dict, k: int):
    pick = {"Conv2d": ("out_channels", lambda v: (v or 1) + 8), "Linear": ("out_features", lambda v: v + 5),
            "Dropout": ("p", lambda v: 0.123), "BatchNorm2d": ("eps", lambda v: 1e-4 if v == 1e-3 else 1e-3)}
    x = rng.choice([n["id"] for n in g["nodes"] if n["op"] in pick])
    name, f = pick[node(g, x)["op"]]
    b = copy.deepcopy(g)
    params = node(b, x).setdefault("params", {})
    params[name] = f(params.get(name, 0))
    return b, {("changed", x, x)}


def m_rewire(rng: random.Random, g: dict, k: int):
    topo = order(g)
    cands = [i for i in topo[2:] if len(node(g, i).get("inputs", [])) == 1]
    x = rng.choice(cands)
    before = topo[:topo.index(x)]  # earlier in dependency order: never downstream of x, so no loop
    src = rng.choice([s for s in before if s != node(g, x)["inputs"][0]])
    b = copy.deepcopy(g)
    node(b, x)["inputs"] = [src]
    return b, {("rewired", x, x)}


def m_rename(rng: random.Random, g: dict, k: int):
    x = rng.choice([n["id"] for n in g["nodes"]])
    return rename_node(g, x, f"{x}_r{k}"), {("renamed", x, f"{x}_r{k}")}


def m_op(rng: random.Random, g: dict, k: int):
    x = rng.choice([n["id"] for n in g["nodes"] if n["op"] in SWAPS])
    b = copy.deepcopy(g)
    node(b, x)["op"] = SWAPS[node(g, x)["op"]]
    node(b, x).pop("params", None)
    return b, {("changed", x, x)}


MUTATIONS = [m_add, m_remove, m_param, m_rewire, m_rename, m_op]


def found(d) -> set:
    return {(c.kind, c.a_id, c.b_id) for c in d.changes}


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_single_mutation_is_found_and_nothing_else(name):
    a = template(name)
    rng = random.Random(name)
    for k in range(12):
        mutate = MUTATIONS[k % len(MUTATIONS)]
        b, expected = mutate(rng, a, k)
        d = diff(a, b)
        assert found(d) == expected, (mutate.__name__, d.summary(), [c.text for c in d.changes])
        assert canon(apply_all(copy.deepcopy(a), d)) == canon(b), mutate.__name__


@pytest.mark.parametrize("name", TEMPLATES)
def test_applying_every_change_of_many_mutations_gives_b(name):
    rng = random.Random(f"many-{name}")
    a = template(name)
    for trial in range(4):
        b = a
        for k in range(rng.randint(3, 8)):
            b, _ = rng.choice(MUTATIONS)(rng, b, 100 * trial + k)
        d = diff(a, b)
        assert not d.same
        assert canon(apply_all(a, d)) == canon(b)
        shuffled = copy.deepcopy(a)  # any order works too: each change finds its node by either id
        for c in rng.sample(d.changes, len(d.changes)):
            shuffled = apply_change(shuffled, c)
        assert canon(shuffled) == canon(b)


def test_layout_name_and_file_order_are_not_changes():
    a = template("resnet18")
    b = copy.deepcopy(a)
    b["name"] = "moved about"
    for n in b["nodes"]:
        n["ui"] = {"x": n["ui"]["x"] + 40, "y": -n["ui"]["y"]}
    b["nodes"].reverse()
    node(b, "conv1")["params"]["kernel_size"] = [7, 7]  # written as a pair: the same after normalisation
    d = diff(a, b)
    assert d.same and d.changes == [] and d.reshaped == [] and d.d_params == 0
    assert d.summary().startswith("The designs are the same")


def test_counts_and_shapes_against_torch():
    a = template("lenet5")
    b = copy.deepcopy(a)
    node(b, "conv2")["params"]["out_channels"] = 20  # 16 -> 20: conv2 grows, and fc1 reads 20·5·5 features
    d = diff(a, b)
    [c] = d.changes
    assert (c.kind, c.params) == ("changed", {"out_channels": (16, 20)})
    assert c.shape == ((16, 10, 10), (20, 10, 10))

    def count(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())
    assert c.d_params == count(torch.nn.Conv2d(6, 20, 5)) - count(torch.nn.Conv2d(6, 16, 5))
    fc1 = next(r for r in d.reshaped if r.a_id == "fc1")
    assert fc1.d_params == count(torch.nn.Linear(500, 120)) - count(torch.nn.Linear(400, 120))
    assert d.d_params == count(engine.build_module(b)) - count(engine.build_module(a))
    assert d.highlights() == ({"conv2": "changed", "relu2": "reshaped", "pool2": "reshaped", "flat": "reshaped",
                               "fc1": "reshaped"},) * 2


def test_a_change_made_stale_is_refused_with_the_node_named():
    a = template("mnist_cnn")
    b = rename_node(a, "conv2", "conv_b")
    b["nodes"] = [n for n in b["nodes"] if n["id"] != "drop"]
    node(b, "fc2")["inputs"] = ["relu3"]
    d = diff(a, b)
    removed = next(c for c in d.changes if c.kind == "removed")
    once = apply_change(a, removed)
    with pytest.raises(ValueError, match="'drop' is not in the design"):
        apply_change(once, removed)
    renamed = next(c for c in d.changes if c.kind == "renamed")
    with pytest.raises(ValueError, match="already has that name"):
        apply_change(apply_change(a, renamed), renamed)
    with pytest.raises(ValueError, match="unknown change kind"):
        apply_change(a, Change("moved"))


def test_a_design_with_errors_is_still_diffed():
    a = template("lenet5")
    b = copy.deepcopy(a)
    node(b, "conv1")["params"]["kernel_size"] = 40  # larger than the input: conv1 in error, the rest blocked
    d = diff(a, b)
    assert not d.b_ok and found(d) == {("changed", "conv1", "conv1")}
    assert canon(apply_all(a, d)) == canon(b)


def test_cli_prints_the_changes_and_json(tmp_path, capsys):
    a = template("mnist_cnn")
    b = rename_node(a, "fc1", "hidden")
    node(b, "drop")["params"]["p"] = 0.25
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    engine.save_graph(engine.load_graph(a), pa)
    engine.save_graph(engine.load_graph(b), pb)
    assert main(["diff", str(pa), str(pa)]) == 0
    assert "the same" in capsys.readouterr().out
    assert main(["diff", str(pa), str(pb)]) == 1
    out = capsys.readouterr().out
    assert "fc1 renamed hidden" in out and "drop: p 0.5 → 0.25" in out and "2 changes" in out
    assert main(["diff", str(pa), str(pb), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert {(c["kind"], c["a_id"], c["b_id"]) for c in data["changes"]} == {("renamed", "fc1", "hidden"),
                                                                            ("changed", "drop", "drop")}
    assert main(["diff", str(pa), str(tmp_path / "missing.json")]) == 2
    assert "error:" in capsys.readouterr().err


def unpool_design() -> dict:
    """Two pools side by side and an unpooling that reads one pool's indices (a node reference, MaxUnpool2d's pool)."""
    return {"format": "convas-graph", "version": 1, "name": "unpool", "outputs": ["up"], "nodes": [
        {"id": "x", "op": "Input", "params": {"shape": [1, 8, 8]}},
        {"id": "pool", "op": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["x"]},
        {"id": "pool_b", "op": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["x"]},
        {"id": "up", "op": "MaxUnpool2d", "params": {"pool": "pool"}, "inputs": ["pool"]}]}


def test_node_references_are_wiring_and_follow_a_rename():
    a = unpool_design()
    assert engine.check(a).ok
    renamed = rename_node(a, "pool", "p1")  # the reference follows the rename: nothing else changed
    d = diff(a, renamed)
    assert found(d) == {("renamed", "pool", "p1")}
    assert canon(apply_all(a, d)) == canon(renamed)
    repointed = copy.deepcopy(a)
    node(repointed, "up")["params"]["pool"] = "pool_b"  # the indices now come from the other pool
    d = diff(a, repointed)
    assert found(d) == {("rewired", "up", "up")} and "pool 'pool' → 'pool_b'" in d.changes[0].text
    assert canon(apply_all(a, d)) == canon(repointed)
    both = rename_node(repointed, "pool_b", "second")  # a rename and a re-pointed reference, applied in any order
    d = diff(a, both)
    assert found(d) == {("renamed", "pool_b", "second"), ("rewired", "up", "up")}
    for order in (d.changes, d.changes[::-1]):
        g = a
        for c in order:
            g = apply_change(g, c)
        assert canon(g) == canon(both)


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "unet", "squeezenet1_0", "nin"])
def test_an_edit_inside_a_module_definition_is_found_and_carried_over(name):
    """Every instance changes with its definition, though no top-level node does: one 'module' change."""
    a = template(name)
    b = copy.deepcopy(a)
    module, d = next(iter(b["modules"].items()))
    conv = next(n for n in d["nodes"] if n["op"] == "Conv2d")
    conv.setdefault("params", {})["bias"] = not conv["params"].get("bias", True)  # a bias more or less per instance
    users = [n["id"] for n in a["nodes"] if n["op"] == module]
    diffed = diff(a, b)
    [c] = diffed.changes
    assert c.kind == "module" and c.op == (module, module) and users[0] in c.text
    assert diffed.summary().startswith("1 change: module")
    count = lambda g: sum(p.numel() for p in engine.build_module(g).parameters())  # noqa: E731
    assert diffed.d_params == count(b) - count(a) != 0
    assert apply_all(copy.deepcopy(a), diffed)["modules"] == b["modules"]


def test_a_detached_instance_is_a_module_added_and_its_node_changed():
    from engine.module_edit import detach

    a = template("resnet18")
    b = detach(a, "layer3_1")
    b["modules"]["BasicBlock_2"]["nodes"][0]["params"]["kernel_size"] = 1
    b["modules"]["BasicBlock_2"]["nodes"][0]["params"]["padding"] = 0
    d = diff(a, b)
    assert found(d) == {("module", None, None), ("changed", "layer3_1", "layer3_1")}
    assert next(c for c in d.changes if c.kind == "module").text == "module BasicBlock_2 added (used by layer3_1)"
    assert canon(apply_all(copy.deepcopy(a), d)) == canon(b)
    assert apply_all(copy.deepcopy(a), d)["modules"] == b["modules"]
    assert diff(b, a).changes[0].text == "module BasicBlock_2 removed (used by layer3_1)"
    layout_only = copy.deepcopy(a)
    for m in layout_only["modules"]["BasicBlock"]["nodes"]:
        m["ui"]["x"] += 50
    assert diff(a, layout_only).same  # moving a definition's layers is layout, not a change
