"""The template library: every graph file builds, its parameter count is torch's, and it looks right on a canvas."""
from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pytest
import torch
import torchvision

import engine
from engine.__main__ import main
from engine.fx.importer import map_state_dict
from engine.layout import SIZES
from engine.modules import flatten
from engine.templates import INDEX, UnknownTemplate, list_templates, load_template, template_path

ROOT = Path(__file__).resolve().parents[2]
# the issue's numbers (torchvision's counts at 3×224×224 with 1000 classes, and the seed tutorials')
EXPECTED = {"lenet5": 61_706, "mnist_cnn": 3_274_634, "mnist_rmsprop_cnn": 1_378_698, "alexnet": 61_100_840,
            "vgg16": 138_357_544, "googlenet": 6_624_904, "resnet18": 11_689_512, "squeezenet1_0": 1_248_424,
            "densenet121": 7_978_856}
GIANTS = {"alexnet", "vgg16"}  # built and counted, but no forward pass at 224 in the default suite
NAMES = list(json.loads(INDEX.read_text(encoding="utf-8")))


def make_templates_script():
    spec = importlib.util.spec_from_file_location("make_templates", ROOT / "scripts" / "make_templates.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_SCRIPT = make_templates_script()
GENERATED = [*_SCRIPT.TORCHVISION, *_SCRIPT.HANDMADE]  # the templates scripts/make_templates.py lays out


def test_the_library_has_every_template_the_issue_asks_for():
    assert set(EXPECTED) | {"nin", "unet", "lstm_rows"} <= set(NAMES)
    for name in NAMES:
        assert template_path(name).is_file(), name


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_in_index_is_torchs(name):
    g = load_template(name)
    r = engine.check(g)
    assert r.ok, r.errors
    listed = json.loads(INDEX.read_text(encoding="utf-8"))[name]["params"]
    model = engine.build_module(g)
    assert sum(p.numel() for p in model.parameters()) == r.total_params == listed
    if name in EXPECTED:
        assert listed == EXPECTED[name]


@pytest.mark.parametrize("name", [n for n in NAMES if n not in GIANTS])
def test_template_runs_forward_with_the_shape_the_check_promises(name):
    g = load_template(name)
    r = engine.check(g)
    model = engine.build_module(g).eval()
    shape = tuple(g.nodes[0].params["shape"])
    with torch.no_grad():
        if g.nodes[0].params.get("dtype") == "int64":  # token ids
            outs = model(torch.randint(0, g.task.num_classes, (1, *shape)))
        else:
            outs = model(torch.randn(1, *shape))
    outs = outs if isinstance(outs, tuple) else (outs,)  # a localiser returns (logits, box)
    assert [tuple(o.shape[1:]) for o in outs] == [r.nodes[o].shape for o in g.outputs]
    out = outs[0]
    if g.task.kind in ("classification", "localisation"):
        assert tuple(out.shape) == (1, g.task.num_classes)
    elif g.task.kind == "language_model":
        assert tuple(out.shape) == (1, shape[0], g.task.num_classes)
    elif g.task.kind == "detection":
        assert out.shape[1] == 5 + g.task.num_classes  # objectness, 4 box numbers, the classes, per cell
    elif g.task.kind == "segmentation":
        assert tuple(out.shape) == (1, g.task.num_classes) + shape[1:]


def test_special_templates_have_the_promised_structure():
    unet = load_template("unet")
    r = engine.check(unet)
    assert unet.task.kind == "segmentation" and unet.task.num_classes == 11
    assert r.nodes["head"].shape == (11, 64, 64)
    ops = [n.op for n in unet.nodes]
    assert ops.count("ConvTranspose2d") == 2 and ops.count("Concat") == 2
    assert unet.node("skip1").inputs == ["up1", "enc1"]  # the skip connection from the encoder
    # one DoubleConv (conv-BN-ReLU twice) serves every width through its out_channels argument
    assert [(n.id, n.params["out_channels"]) for n in unet.nodes if n.op == "DoubleConv"] == \
        [("enc1", 16), ("enc2", 32), ("bottleneck", 64), ("dec2", 32), ("dec1", 16)]
    assert [r.nodes[i].shape for i in ("enc1", "bottleneck", "dec1")] == [(16, 64, 64), (64, 16, 16), (16, 64, 64)]

    lstm = load_template("lstm_rows")
    r = engine.check(lstm)
    assert [n.op for n in lstm.nodes] == ["Input", "ToSequence", "LSTM", "Linear"]
    assert r.nodes["rows"].shape == (28, 28) and r.nodes["lstm"].shape == (128,) and r.nodes["fc"].shape == (10,)

    nin = load_template("nin")
    assert nin.nodes[0].params["shape"] == [3, 32, 32] and engine.check(nin).nodes["flatten"].shape == (10,)
    assert not any(n.op == "Linear" for n in nin.nodes)  # global average pooling instead of FC layers
    assert [n.id for n in nin.nodes if n.op == "Mlpconv"] == ["mlpconv1", "mlpconv2", "mlpconv3"]
    assert [m.op for m in nin.modules["Mlpconv"].nodes] == ["Conv2d", "ReLU"] * 3  # a conv, then two 1×1 convs


def test_ptb_templates_are_the_seed_models_with_their_recipes():
    from engine.templates import template_train
    from engine.train.config import TrainConfig

    for name, (T, H, drop, params) in {"ptb_lstm_small": (20, 200, 0.0, 4_653_200),
                                       "ptb_lstm_medium": (35, 650, 0.5, 19_780_400)}.items():
        g = load_template(name)
        r = engine.check(g)
        assert g.task.kind == "language_model" and g.task.num_classes == 10_000
        lstm = g.node("lstm").params
        assert lstm["num_layers"] == 2 and lstm["hidden_size"] == H and lstm["stateful"] and lstm["dropout"] == drop
        assert r.nodes["input"].shape == (T,) and r.nodes["decoder"].shape == (T, 10_000)
        # embedding V·H, 2 LSTM layers of 4·H·(H + H) + 2·4·H, decoder H·V + V
        assert r.total_params == 10_000 * H + 2 * (4 * H * 2 * H + 8 * H) + H * 10_000 + 10_000 == params
        TrainConfig.from_dict(template_train(name))  # a valid recipe
    small, medium = template_train("ptb_lstm_small"), template_train("ptb_lstm_medium")
    assert (small["lr"], small["lr_decay"], small["lr_decay_after"], small["epochs"]) == (1.0, 0.5, 4, 13)
    assert (medium["lr_decay"], medium["lr_decay_after"], medium["epochs"]) == (0.8, 6, 39)
    assert small["clip_grad_norm"] == 5.0 and small["init_uniform"] == 0.1 and template_train("lenet5") == {}


@pytest.mark.parametrize("name", NAMES)
def test_layout_flows_top_to_bottom_without_overlaps(name):
    g = load_template(name)
    pos = {n.id: (n.ui.x, n.ui.y) for n in g.nodes}
    assert len(set(pos.values())) == len(pos), "two nodes share a position"
    for n in g.nodes:
        for i in n.inputs:
            assert pos[i][1] < pos[n.id][1], f"{i} -> {n.id} points up"
    rows: dict[float, list[float]] = {}
    for x, y in pos.values():
        rows.setdefault(y, []).append(x)
    for y, xs in rows.items():  # cards side by side never overlap on the canvas
        xs.sort()
        assert all(b - a >= SIZES.node_w for a, b in zip(xs, xs[1:])), f"cards overlap in the row at y={y}"


@pytest.mark.parametrize("name", GENERATED)
def test_generated_templates_use_the_canvas_sizes(name):
    """Generated templates are laid out by engine.layout, so their layers are the canvas's layer distance apart."""
    ys = sorted({n.ui.y for n in load_template(name).nodes})
    assert ys == [i * SIZES.layer_dy for i in range(len(ys))]


@pytest.mark.parametrize("name", [n for n in NAMES if load_template(n).modules])
def test_definitions_flow_top_to_bottom_without_overlaps(name):
    """An expanded instance draws its definition's layers as laid out in the file: readable on their own."""
    for module, d in load_template(name).modules.items():
        pos = {m.id: (m.ui.x, m.ui.y) for m in d.nodes}
        assert len(set(pos.values())) == len(pos), f"{module}: two layers share a position"
        for m in d.nodes:
            for i in m.inputs:
                assert i in d.inputs or pos[i][1] < pos[m.id][1], f"{module}: {i} -> {m.id} points up"
        rows: dict[float, list[float]] = {}
        for x, y in pos.values():
            assert y % SIZES.layer_dy == 0, f"{module}: {y} is not on a layer row"
            rows.setdefault(y, []).append(x)
        for y, xs in rows.items():
            xs.sort()
            assert all(b - a >= SIZES.node_w for a, b in zip(xs, xs[1:])), f"{module}: cards overlap at y={y}"


def test_branches_sit_side_by_side():
    inception = load_template("googlenet").modules["Inception"]
    pos = {m.id: (m.ui.x, m.ui.y) for m in inception.nodes}
    firsts = ["branch1_conv", "branch2_0_conv", "branch3_0_conv", "branch4_0"]
    assert len({pos[f][1] for f in firsts}) == 1 and len({pos[f][0] for f in firsts}) == 4


def test_torchvision_templates_have_readable_ids():
    tpl = {name: load_template(name) for name in ("alexnet", "resnet18", "googlenet", "squeezenet1_0", "densenet121")}
    ids = {name: [n.id for n in g.nodes] for name, g in tpl.items()}
    assert ids["alexnet"][:5] == ["input", "conv1", "relu1", "pool1", "conv2"] and ids["alexnet"][-1] == "fc3"
    # instances are the torchvision paths' readable forms (layer1.0 -> layer1_0), their layers the paths inside
    assert ids["resnet18"] == ["input", "conv1", "bn1", "relu", "maxpool", *(f"layer{s}_{b}" for s in (1, 2, 3, 4)
                                                                            for b in (0, 1)),
                               "avgpool", "flatten", "fc"]
    blocks = tpl["resnet18"].modules
    assert [m.id for m in blocks["BasicBlock"].nodes] == ["conv1", "bn1", "relu", "conv2", "bn2", "add", "relu_1"]
    assert {"downsample_0", "downsample_1"} <= {m.id for m in blocks["BasicBlockDownsample"].nodes}
    assert [i for i in ids["googlenet"] if i.startswith("inception")] == \
        ["inception3a", "inception3b", "inception4a", "inception4b", "inception4c", "inception4d", "inception4e",
         "inception5a", "inception5b"]
    assert {"branch2_0_relu", "cat"} <= {m.id for m in tpl["googlenet"].modules["Inception"].nodes}
    assert [i for i in ids["squeezenet1_0"] if i.startswith("fire")] == [f"fire{i}" for i in range(1, 9)]
    assert [i for i in ids["densenet121"] if i.startswith("dense")] == [f"denseblock{i}" for i in range(1, 5)]


@pytest.mark.parametrize("name, blocks", [
    ("resnet18", {"BasicBlock": 5, "BasicBlockDownsample": 3}), ("googlenet", {"BasicConv2d": 3, "Inception": 9}),
    ("squeezenet1_0", {"Fire": 8}), ("nin", {"Mlpconv": 3}), ("unet", {"DoubleConv": 5}),
    ("densenet121", {"DenseBlock": 1, "DenseBlock_2": 1, "DenseBlock_3": 1, "DenseBlock_4": 1}),
])
def test_templates_use_modules_where_the_architecture_repeats_a_block(name, blocks):
    g = load_template(name)
    r = engine.check(g)
    assert {k: [n.op for n in g.nodes].count(k) for k in blocks} == blocks
    src = engine.to_python(g)
    classes = [c.name for c in ast.parse(src).body if isinstance(c, ast.ClassDef)]
    assert set(g.modules) <= set(classes) and classes[-1] == "Net"  # one class per definition
    flat = flatten(g).graph
    assert r.total_params == engine.check(flat).total_params
    assert sum(p.numel() for p in engine.build_module(g).parameters()) == r.total_params


def test_densenet_dense_blocks_hold_dense_layer_instances():
    g = load_template("densenet121")
    layers = {k: [m.op for m in d.nodes].count("DenseLayer") for k, d in g.modules.items() if k != "DenseLayer"}
    assert layers == {"DenseBlock": 6, "DenseBlock_2": 12, "DenseBlock_3": 24, "DenseBlock_4": 16}  # 121 layers
    assert not g.modules["DenseLayer"].args  # the same layer everywhere: its input width comes from the shapes


def test_resnet18_template_takes_torchvision_weights():
    """The template keeps each node's source module, so torchvision's state_dict maps onto it."""
    g = load_template("resnet18")
    tv = torchvision.models.resnet18(weights=None).eval()
    net = engine.build_module(g).eval()
    net.load_state_dict(map_state_dict(g, tv.state_dict()), strict=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert (net(x) - tv(x)).abs().max().item() <= 1e-5


@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_0", "nin", "unet", "lstm_rows", "ptb_lstm_small",
                                  "ptb_lstm_medium", pytest.param("googlenet", marks=pytest.mark.slow),
                                  pytest.param("densenet121", marks=pytest.mark.slow)])
def test_generator_reproduces_the_committed_file(name):
    g = make_templates_script().make(name)
    assert g.to_dict() == load_template(name).to_dict()


def test_list_templates_and_unknown_names():
    items = {t["name"]: t for t in list_templates()}
    assert list(items) == NAMES
    assert items["resnet18"] == {"name": "resnet18", "title": "ResNet-18", "params": 11_689_512,
                                 "description": items["resnet18"]["description"], "task": "classification"}
    assert items["unet"]["task"] == "segmentation"
    assert all(t["description"] and t["title"] for t in items.values())
    with pytest.raises(UnknownTemplate, match="unknown template '../index'. Available: alexnet"):
        load_template("../index")


def test_cli_templates_table_and_json(capsys):
    assert main(["templates"]) == 0
    out = capsys.readouterr().out
    assert "name" in out.splitlines()[0] and "parameters" in out.splitlines()[0]
    for name in NAMES:
        assert name in out
    assert "138,357,544" in out and "11,689,512" in out
    assert main(["templates", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == list_templates()
