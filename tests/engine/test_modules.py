"""Modules (graph format v2): v1 upgrade, checking through instances, one exported class per definition, edits."""
from __future__ import annotations

import ast
import copy
import json
import random
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import engine
from engine.graph import VERSION, load_graph, parse
from engine.module_edit import (
    ModuleEditError,
    detach,
    extract_modules,
    inline,
    make_module,
    rename_module,
    set_definition,
    set_expanded,
    set_inner_params,
)
from engine.modules import flatten

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [p for p in sorted((ROOT / "assets" / "templates").glob("*.json")) if p.name != "index.json"]


def blocks_as_modules(d: dict, name_of=lambda group: "BasicBlock") -> dict:
    """A design whose ui.group blocks become instances (what a template with blocks gets)."""
    groups: dict[str, tuple[str, list[str]]] = {}
    for n in d["nodes"]:
        grp = n.get("ui", {}).get("group")
        if grp:
            groups.setdefault(grp, (name_of(grp), []))[1].append(n["id"])
    return extract_modules(d, groups)


def inlined(d: dict) -> dict:
    """The design with every instance inlined, nested ones too (ids layer1_0_conv1, ui.group layer1_0), and no
    modules section: the flat (version 1) form of a template that uses modules."""
    while instances := [n["id"] for n in d["nodes"] if n["op"] in d.get("modules", {})]:
        for iid in instances:
            d = inline(d, iid)
    d.pop("modules", None)
    return d


def resnet18_flat() -> dict:
    return inlined(json.loads((ROOT / "assets/templates/resnet18.json").read_text()))


def resnet18_modules() -> dict:
    return blocks_as_modules(resnet18_flat())


def flat_of(g: dict) -> dict:
    return flatten(load_graph(g)).graph.to_dict()


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    """Load src's state into dst by name, where 'layer1_0_conv1.weight' and 'layer1.0.conv1.weight' are the same
    layer (the flat build names layers by flat id, the modular build by module path)."""
    key = lambda k: k.replace(".", "_")  # noqa: E731
    s = {key(k): v for k, v in src.state_dict().items()}
    d = dst.state_dict()
    assert sorted(map(key, d)) == sorted(s), "the two builds hold different tensors"
    dst.load_state_dict({k: s[key(k)] for k in d})


def small_design() -> dict:
    """Input -> Unit(8) -> Unit(8, stride 2) -> Unit(16) -> classifier, with Unit = conv -> BN -> ReLU (+ skip)."""
    return {"format": "convas-graph", "version": 2, "name": "units", "nodes": [
        {"id": "input", "op": "Input", "params": {"shape": [3, 12, 12]}},
        {"id": "stem", "op": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3, "padding": 1}, "inputs": ["input"]},
        {"id": "u1", "op": "Unit", "params": {"ch": 8}, "inputs": ["stem"]},
        {"id": "u2", "op": "Unit", "params": {"ch": 8, "stride": 2}, "inputs": ["u1"]},
        {"id": "u3", "op": "Unit", "params": {"ch": 16}, "inputs": ["u2"]},
        {"id": "pool", "op": "AdaptiveAvgPool2d", "params": {"output_size": 1}, "inputs": ["u3"]},
        {"id": "flat", "op": "Flatten", "inputs": ["pool"]},
        {"id": "fc", "op": "Linear", "params": {"out_features": 5}, "inputs": ["flat"]}],
        "outputs": ["fc"],
        "modules": {"Unit": {"args": {"ch": 8, "stride": 1}, "inputs": ["x"], "nodes": [
            {"id": "conv", "op": "Conv2d", "params": {"out_channels": "$ch", "kernel_size": 3, "padding": 1,
                                                      "stride": "$stride"}, "inputs": ["x"]},
            {"id": "bn", "op": "BatchNorm2d", "inputs": ["conv"]},
            {"id": "act", "op": "ReLU", "inputs": ["bn"]}], "outputs": ["act"]}}}


# ---- v1 -> v2 ----

@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_every_template_v1_file_loads_as_version_2_with_the_same_check(path):
    data = inlined(json.loads(path.read_text(encoding="utf-8")))  # a template with modules: its flat form
    v1 = {**data, "version": 1}
    g = load_graph(v1)
    assert g.version == VERSION == 2 and g.modules == {}
    assert g.to_dict()["version"] == 2 and "modules" not in g.to_dict()  # the upgrade adds nothing else
    before, after = engine.check(v1), engine.check(g.to_json())
    assert {k: (v.shape, v.params) for k, v in before.nodes.items()} == \
        {k: (v.shape, v.params) for k, v in after.nodes.items()}
    assert load_graph(g.to_json()) == g  # the saved v2 file reads back the same


def test_hand_written_v1_files_keep_loading():
    text = """{"format": "convas-graph", "version": 1, "name": "tiny",
      "nodes": [{"id": "in", "op": "Input", "params": {"shape": [1, 8, 8]}},
                {"id": "c", "op": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3}, "inputs": ["in"]},
                {"id": "f", "op": "Flatten", "inputs": ["c"]},
                {"id": "o", "op": "Linear", "params": {"out_features": 3}, "inputs": ["f"]}],
      "outputs": ["o"], "task": {"kind": "classification", "num_classes": 3}}"""
    g = load_graph(text)
    assert g.version == 2 and engine.check(g).nodes["o"].shape == (3,)
    assert engine.build_module(g)(torch.zeros(2, 1, 8, 8)).shape == (2, 3)


def test_a_v1_file_with_modules_is_told_to_say_version_2():
    d = small_design()
    d["version"] = 1
    g, issues = parse(d)
    assert g is None and "version 2" in issues[0].message and issues[0].field == "modules"


# ---- checking through instances ----

def test_instances_report_their_output_shape_and_inner_params_like_torch():
    d = small_design()
    r = engine.check(d)
    assert r.ok, r.errors
    assert r.nodes["u1"].shape == (8, 12, 12) and r.nodes["u2"].shape == (8, 6, 6) and r.nodes["u3"].shape == (16, 6, 6)
    model = engine.build_module(d)
    assert sum(p.numel() for p in model.parameters()) == r.total_params
    for iid in ("u1", "u2", "u3"):  # each instance is a submodule; its params are the instance node's
        assert sum(p.numel() for p in getattr(model, iid).parameters()) == r.nodes[iid].params
    out = {}
    hooks = [getattr(model, i).register_forward_hook(lambda m, a, y, i=i: out.__setitem__(i, tuple(y.shape[1:])))
             for i in ("u1", "u2", "u3")]
    model(torch.zeros(2, 3, 12, 12))
    for h in hooks:
        h.remove()
    assert out == {i: r.nodes[i].shape for i in ("u1", "u2", "u3")}


def random_modular_design(rng: random.Random) -> dict:
    """A chain of instances of one or two random definitions (convs, pools, activations, a residual Add)."""
    def definition(k: int) -> dict:
        nodes, prev = [], "x"
        for j in range(rng.randint(1, 3)):
            kind = rng.choice(["conv", "conv", "act", "bn"])
            nid = f"n{j}"
            if kind == "conv":
                nodes.append({"id": nid, "op": "Conv2d", "params": {"out_channels": "$ch", "kernel_size":
                              rng.choice([1, 3]), "padding": "same"}, "inputs": [prev]})
            elif kind == "act":
                nodes.append({"id": nid, "op": rng.choice(["ReLU", "Tanh"]), "inputs": [prev]})
            else:
                nodes.append({"id": nid, "op": "BatchNorm2d", "inputs": [prev]})
            prev = nid
        if rng.random() < 0.5:
            nodes.append({"id": "proj", "op": "Conv2d", "params": {"out_channels": "$ch", "kernel_size": 1},
                          "inputs": ["x"]})
            nodes.append({"id": "sum", "op": "Add", "inputs": [prev if prev != "x" else "proj", "proj"]})
            prev = "sum"
        if prev == "x":
            nodes.append({"id": "id", "op": "Identity", "inputs": ["x"]})
            prev = "id"
        return {"args": {"ch": 4}, "inputs": ["x"], "nodes": nodes, "outputs": [prev]}
    mods = {f"M{k}": definition(k) for k in range(rng.randint(1, 2))}
    nodes = [{"id": "input", "op": "Input", "params": {"shape": [rng.randint(1, 3), 8, 8]}}]
    prev = "input"
    for i in range(rng.randint(1, 4)):
        nid = f"b{i}"
        nodes.append({"id": nid, "op": rng.choice(sorted(mods)), "params": {"ch": rng.choice([2, 4, 6])},
                      "inputs": [prev]})
        prev = nid
        if rng.random() < 0.3:
            nodes.append({"id": f"p{i}", "op": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": [prev]})
            prev = f"p{i}"
    return {"format": "convas-graph", "version": 2, "name": "random", "nodes": nodes, "outputs": [prev],
            "modules": mods}


@pytest.mark.parametrize("seed", range(12))
def test_differential_random_modular_designs_agree_with_torch(seed):
    d = random_modular_design(random.Random(seed))
    r = engine.check(d)
    assert r.ok, r.errors
    model = engine.build_module(d).eval()
    c = d["nodes"][0]["params"]["shape"][0]
    y = model(torch.randn(2, c, 8, 8))
    assert tuple(y.shape[1:]) == r.nodes[d["outputs"][0]].shape
    assert sum(p.numel() for p in model.parameters()) == r.total_params
    flat = engine.build_module(flat_of(d)).eval()  # the flat build with the same weights computes the same
    copy_weights(model, flat)
    x = torch.randn(2, c, 8, 8)
    torch.testing.assert_close(model(x), flat(x))


def test_a_shape_error_inside_an_instance_shows_on_the_instance_and_names_the_inner_node():
    d = small_design()
    d["modules"]["Unit"]["nodes"][0]["params"]["kernel_size"] = 40  # larger than 12x12
    r = engine.check(d)
    assert not r.ok
    err = r.nodes["u1"].error
    assert err and "Unit" in err and "'conv'" in err and "kernel" in err
    assert r.nodes["u2"].blocked and r.nodes["u2"].shape is None  # downstream of the broken instance
    assert any(i.node == "u1" and "'conv'" in i.message for i in r.errors)
    assert r.flat is not None and r.flat.nodes["u1.conv"].error  # the inner node's own report


@pytest.mark.parametrize("change, says", [
    (lambda d: d["nodes"][2]["params"].update(chanels=3), "Unit has no argument 'chanels'. Its arguments: ch, stride."),
    (lambda d: d["modules"]["Unit"]["nodes"][0]["params"].update(out_channels="$width"), "'$width'"),
    (lambda d: d["modules"]["Unit"].update(outputs=["act", "bn"]), "exactly one output"),
    (lambda d: d["nodes"][2].update(inputs=["stem", "input"]), "takes 1 input(s)"),
    (lambda d: d["modules"]["Unit"]["nodes"].insert(0, {"id": "inner", "op": "Unit", "inputs": ["x"]}),
     "cannot contain itself"),
    (lambda d: d["modules"].update(Conv2d=d["modules"]["Unit"]), "is a catalog op"),
    (lambda d: d["modules"]["Unit"]["args"].update({"a-b": 1}), "plain Python identifier"),
])
def test_broken_modules_get_a_clear_message(change, says):
    d = small_design()
    change(d)
    r = engine.check(d)
    assert not r.ok
    assert any(says in i.message for i in r.errors), [i.message for i in r.errors]
    with pytest.raises(engine.GraphError):
        load_graph(d)


# ---- code export ----

def test_exported_resnet18_reads_like_torchvision_and_equals_the_flat_build():
    d = resnet18_modules()
    r = engine.check(d)
    assert r.ok and r.total_params == 11_689_512
    src = engine.to_python(d)
    tree = ast.parse(src)
    classes = [c.name for c in tree.body if isinstance(c, ast.ClassDef)]
    assert classes == ["BasicBlock", "BasicBlockDownsample", "Net"]  # one class per definition
    assert sorted(d["modules"]) == ["BasicBlock", "BasicBlockDownsample"]
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        assert f"self.{stage} = nn.Sequential(" in src
    assert src.count(" BasicBlock(out_channels=") == 5 and src.count(" BasicBlockDownsample(in_channels=") == 3
    model = engine.build_module(d).eval()
    assert sum(p.numel() for p in model.parameters()) == 11_689_512
    flat = engine.build_module(resnet18_flat()).eval()
    copy_weights(model, flat)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(model(x), flat(x))


def test_exported_source_is_standalone_and_one_class_serves_every_width():
    d = small_design()
    src = engine.to_python(d)
    tree = ast.parse(src)
    assert [c.name for c in tree.body if isinstance(c, ast.ClassDef)] == ["Unit", "Net"]
    ns: dict = {}
    exec(compile(src, "<test>", "exec"), ns)  # noqa: S102 - our own generated source
    assert sum(p.numel() for p in ns["build"]().parameters()) == engine.check(d).total_params


def test_nested_modules_export_a_class_each():
    d = small_design()
    d["modules"]["Stage"] = {"args": {"ch": 8}, "inputs": ["x"], "nodes": [
        {"id": "a", "op": "Unit", "params": {"ch": "$ch", "stride": 2}, "inputs": ["x"]},
        {"id": "b", "op": "Unit", "params": {"ch": "$ch"}, "inputs": ["a"]}], "outputs": ["b"]}
    d["nodes"][3] = {"id": "u2", "op": "Stage", "params": {"ch": 12}, "inputs": ["u1"]}
    r = engine.check(d)
    assert r.ok, r.errors
    assert r.nodes["u2"].shape == (12, 6, 6)
    src = engine.to_python(d)
    assert [c.name for c in ast.parse(src).body if isinstance(c, ast.ClassDef)] == ["Unit", "Stage", "Net"]
    model = engine.build_module(d).eval()
    flat = engine.build_module(flat_of(d)).eval()
    copy_weights(model, flat)
    x = torch.randn(2, 3, 12, 12)
    torch.testing.assert_close(model(x), flat(x))


# ---- edits ----

def test_make_module_from_a_selection_keeps_the_model():
    d = resnet18_flat()
    ids = [n["id"] for n in d["nodes"] if n.get("ui", {}).get("group") == "layer1_0"]
    g = make_module(d, ids, "Block")
    assert g["version"] == 2 and [n["op"] for n in g["nodes"]].count("Block") == 1
    inst = next(n for n in g["nodes"] if n["op"] == "Block")
    assert inst["id"] == "layer1_0" and inst["inputs"] == ["maxpool"]
    assert next(n for n in g["nodes"] if n["id"] == "layer1_1_conv1")["inputs"] == ["layer1_0"]
    assert [n["id"] for n in g["modules"]["Block"]["nodes"]][:2] == ["conv1", "bn1"]
    before, after = engine.check(d), engine.check(g)
    assert after.ok and after.total_params == before.total_params == 11_689_512
    assert after.nodes["layer1_0"].shape == before.nodes["layer1_0_relu_1"].shape


def test_make_module_refuses_a_selection_with_two_exits_or_an_input():
    d = small_design()
    flat = flat_of(d)
    with pytest.raises(ModuleEditError, match="Input"):
        make_module(flat, ["input", "stem"], "Stem")
    flat["outputs"] = ["fc", "u1.conv"]
    with pytest.raises(ModuleEditError, match="one output"):
        make_module(flat, ["u1.conv", "u1.bn", "u1.act"], "U")
    with pytest.raises(ModuleEditError, match="identifier"):
        make_module(flat, ["stem"], "not a name")


def test_editing_a_definition_changes_every_instance_and_detach_makes_one_independent():
    d = small_design()
    g = set_inner_params(d, "Unit", "conv", {"kernel_size": 1, "padding": 0})
    r0, r1 = engine.check(d), engine.check(g)
    for i in ("u1", "u2", "u3"):
        assert r1.nodes[i].params < r0.nodes[i].params  # every instance got the 1x1 conv
    h = detach(g, "u3")
    assert h["nodes"][4]["op"] == "Unit_2" and h["modules"]["Unit_2"] == h["modules"]["Unit"]
    h = set_inner_params(h, "Unit_2", "conv", {"kernel_size": 3, "padding": 1})
    r2 = engine.check(h)
    assert r2.nodes["u3"].params == r0.nodes["u3"].params and r2.nodes["u1"].params == r1.nodes["u1"].params
    assert len(ast.parse(engine.to_python(h)).body) > 0
    replaced = set_definition(h, "Unit", copy.deepcopy(d["modules"]["Unit"]))
    assert engine.check(replaced).nodes["u1"].params == r0.nodes["u1"].params


def _class_names(g: dict) -> list[str]:
    return [c.name for c in ast.parse(engine.to_python(g)).body if isinstance(c, ast.ClassDef)]


def test_renaming_a_module_renames_every_instance_and_the_exported_class():
    d = small_design()
    d["modules"]["Pair"] = {"args": {}, "inputs": ["x"], "nodes": [  # a definition that uses Unit inside
        {"id": "a", "op": "Unit", "params": {"ch": 16}, "inputs": ["x"]},
        {"id": "b", "op": "ReLU", "inputs": ["a"]}], "outputs": ["b"]}
    d["nodes"][5]["inputs"] = ["u4"]
    d["nodes"].insert(5, {"id": "u4", "op": "Pair", "inputs": ["u3"]})
    g = rename_module(d, "Unit", "ConvUnit")
    assert list(g["modules"]) == ["ConvUnit", "Pair"]  # same place in the file
    assert [n["op"] for n in g["nodes"] if n["id"].startswith("u")] == ["ConvUnit"] * 3 + ["Pair"]
    assert g["modules"]["Pair"]["nodes"][0]["op"] == "ConvUnit" and d["modules"]["Pair"]["nodes"][0]["op"] == "Unit"
    a, b = engine.check(d), engine.check(g)
    assert b.ok and {k: (v.shape, v.params) for k, v in a.nodes.items()} == \
        {k: (v.shape, v.params) for k, v in b.nodes.items()}
    assert "ConvUnit" in _class_names(g) and "Unit" not in _class_names(g) and "Unit" in _class_names(d)
    torch.manual_seed(0)
    m1 = engine.build_module(d).eval()
    torch.manual_seed(0)
    m2 = engine.build_module(g).eval()
    x = torch.randn(2, 3, 12, 12)
    assert torch.equal(m1(x), m2(x))  # the same network, only the class name differs
    assert rename_module(d, "Unit", " Unit ") == d  # its own name: nothing changes


@pytest.mark.parametrize("new, says", [("Pair", "already a module"), ("Conv2d", "catalog op"), ("Net", "exported"),
                                       ("class", "identifier"), ("2block", "identifier"), ("my block", "identifier"),
                                       ("print", "identifier"), ("", "identifier")])
def test_a_module_name_that_cannot_be_a_class_is_refused(new, says):
    d = small_design()
    d["modules"]["Pair"] = copy.deepcopy(d["modules"]["Unit"])
    with pytest.raises(ModuleEditError, match=says):
        rename_module(d, "Unit", new)
    with pytest.raises(ModuleEditError, match="no module named 'Nope'"):
        rename_module(d, "Nope", "Fine")


def test_inline_puts_the_inner_nodes_back_and_the_model_is_unchanged():
    d = small_design()
    g = inline(d, "u2")
    assert "u2" not in {n["id"] for n in g["nodes"]} and {"u2_conv", "u2_bn", "u2_act"} <= {n["id"] for n in g["nodes"]}
    assert next(n for n in g["nodes"] if n["id"] == "u2_conv")["params"]["stride"] == 2
    a, b = engine.check(d), engine.check(g)
    assert b.ok and a.total_params == b.total_params and b.nodes["u3"].shape == a.nodes["u3"].shape


def test_expand_and_collapse_are_ui_state_only():
    d = small_design()
    g = set_expanded(d, "u1", True)
    assert g["nodes"][2]["ui"]["expanded"] is True and load_graph(g).node("u1").ui.expanded is True
    assert engine.to_python(g) == engine.to_python(d)
    assert "expanded" not in set_expanded(g, "u1", False)["nodes"][2]["ui"]
    with pytest.raises(ModuleEditError):
        set_expanded(d, "stem", True)


def test_extract_modules_makes_arguments_of_what_differs():
    d = resnet18_modules()
    assert d["modules"]["BasicBlock"]["args"] == {"out_channels": 64}
    conv1 = d["modules"]["BasicBlock"]["nodes"][0]
    assert conv1["params"]["out_channels"] == "$out_channels" and conv1["params"]["kernel_size"] == 3
    ops = {n["id"]: (n["op"], n.get("params")) for n in d["nodes"]}
    assert ops["layer2_1"] == ("BasicBlock", {"out_channels": 128})
    assert ops["layer4_0"] == ("BasicBlockDownsample", {"out_channels": 512})


def test_palette_blocks_arrive_as_modules_and_identical_ones_share_a_definition():
    from engine.blocks import insert_block_module

    g = {"format": "convas-graph", "version": 2, "nodes": [{"id": "input", "op": "Input",
                                                               "params": {"shape": [192, 28, 28]}}], "outputs": ["f1"]}
    g = insert_block_module(g, "inception", "i1", "input")
    g = insert_block_module(g, "inception", "i2", "i1", ch1x1=128)
    g = insert_block_module(g, "fire", "f1", "i2")
    assert [n["op"] for n in g["nodes"]] == ["Input", "Inception", "Inception_2", "Fire"]
    g = insert_block_module(g, "fire", "f2", "f1")
    assert g["nodes"][-1]["op"] == "Fire" and len(g["modules"]) == 3  # the identical Fire is shared
    g["outputs"] = ["f2"]
    r = engine.check(g)
    assert r.ok, r.errors
    assert r.nodes["i1"].params == 155_872  # torchvision's GoogLeNet Inception(192, 64, 96, 128, 16, 32, 32)
    classes = [c.name for c in ast.parse(engine.to_python(g)).body if isinstance(c, ast.ClassDef)]
    assert classes == ["Inception", "Inception_2", "Fire", "Net"]
    with pytest.raises(ValueError, match="already a node 'f1'"):
        insert_block_module(g, "fire", "f1", "f2")


def test_the_example_in_the_modules_doc_is_valid_and_right():
    text = (ROOT / "docs" / "modules.md").read_text(encoding="utf-8")
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    r = engine.check(load_graph(example))
    assert r.ok, r.errors
    assert (r.nodes["u1"].shape, r.nodes["u2"].shape) == ((16, 32, 32), (32, 16, 16))
    assert r.nodes["u2"].params == 32 * 16 * 9 + 32 + 2 * 32  # conv (with bias) + BatchNorm


def test_a_module_bomb_is_refused_before_it_is_inlined():
    mods = {}
    for k in range(8):  # 10^8 layers if inlined
        inner = f"M{k + 1}" if k < 7 else "ReLU"
        nodes = [{"id": f"n{j}", "op": inner, "inputs": [f"n{j - 1}" if j else "x"]} for j in range(10)]
        mods[f"M{k}"] = {"inputs": ["x"], "nodes": nodes, "outputs": ["n9"]}
    g = {"format": "convas-graph", "version": 2, "nodes": [{"id": "input", "op": "Input", "params": {"shape": [4]}},
                                                          {"id": "b", "op": "M0", "inputs": ["input"]}],
         "outputs": ["b"], "modules": mods}
    r = engine.check(g)
    assert not r.ok and r.nodes["b"].error and "more than 50,000 layers" in r.nodes["b"].error
    assert len(flatten(load_graph_unchecked(g)).graph.nodes) == 1  # only the Input: nothing was inlined


def load_graph_unchecked(d: dict):
    g, issues = parse(d)
    assert not issues
    return g


def test_a_modular_design_saves_and_loads_back_unchanged(tmp_path):
    for d in (small_design(), resnet18_modules()):
        g = load_graph(d)
        engine.save_graph(g, tmp_path / "g.json")
        back = load_graph(tmp_path / "g.json")
        assert back == g and back.to_json() == g.to_json() and back.version == 2
        assert json.loads(back.to_json())["modules"] == g.to_dict()["modules"]
