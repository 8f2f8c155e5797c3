"""Import with modules: nn_module_stack blocks arrive as instances, and import -> export -> exec -> import is exact."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import engine
from engine.fx.importer import import_model

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = {p.stem: p for p in sorted((ROOT / "assets" / "templates").glob("*.json")) if p.name != "index.json"}
# ops that export as the torch layer they are, and so come back as that op (the same model, another name)
EXPORTS_AS = {"DetectionHead": "Conv2d", "GlobalAvgPool2d": "AdaptiveAvgPool2d"}
SLOW_TEMPLATES = {"densenet121", "googlenet", "vgg16", "alexnet"}


def exported(g) -> torch.nn.Module:
    ns: dict = {}
    exec(compile(engine.to_python(g), "<exported>", "exec"), ns)  # noqa: S102 - our own generated source
    return ns["Net"]()


def without_ui(g) -> dict:
    d = json.loads(engine.load_graph(g).to_json())
    for n in d["nodes"] + [m for md in d.get("modules", {}).values() for m in md["nodes"]]:
        n.pop("ui", None)
    d.pop("name")
    return d


def model_form(g) -> tuple:
    """What a template's round trip keeps: per node (in file order) its op, its inputs by position, its output
    shape and parameter count; the outputs. (Ids of traced functions come back as torch.fx names: 'add', 'cat'.)"""
    g = engine.load_graph(g)
    r = engine.check(g)
    pos = {n.id: i for i, n in enumerate(g.nodes)}
    return ([(n.op, tuple(pos[s] for s in n.inputs), r.nodes[n.id].shape, r.nodes[n.id].params) for n in g.nodes],
            [pos[o] for o in g.outputs])


def input_shape(g):
    shapes = [tuple(n.params["shape"]) for n in g.nodes if n.op == "Input"]
    return shapes[0] if len(shapes) == 1 else shapes


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_TEMPLATES else n
                                  for n in TEMPLATES])
def test_every_template_round_trips_through_exported_code(name):
    g = engine.load_graph(TEMPLATES[name])
    back = import_model(exported(g), input_shape(g), modules=bool(g.modules))  # a template's blocks come back as blocks
    a, b = model_form(g), model_form(back)
    a = ([(EXPORTS_AS.get(op, op), *rest) for op, *rest in a[0]], a[1])
    assert a == b


@pytest.mark.parametrize("name", ["ptb_lstm_small", "ptb_lstm_medium", "rbm_recommender"])
def test_token_id_stateful_and_rbm_templates_read_back_with_every_param(name):
    """Input dtype int64, the LSTM's stateful=True, the RBM's hidden size: what a design means, not only its shapes."""
    g = engine.load_graph(TEMPLATES[name])
    model = exported(g)
    back = import_model(model, input_shape(g))
    a, b = engine.check(g).normalised, engine.check(back).normalised
    assert [(n.op, a[n.id]) for n in g.nodes] == [(n.op, b[n.id]) for n in back.nodes]
    assert getattr(model, "carried", {}) == {}  # tracing stored the state there; the import put it back


def test_softmax_rbm_reads_back_from_its_exported_code():
    d = json.loads(TEMPLATES["rbm_recommender"].read_text())
    d["nodes"][1]["params"]["visible_units"] = "softmax"  # the template's RBM with star-level units
    g = engine.load_graph(d)
    back = import_model(exported(g), input_shape(g))
    a, b = engine.check(g).normalised, engine.check(back).normalised
    assert [(n.op, a[n.id]) for n in g.nodes] == [(n.op, b[n.id]) for n in back.nodes]


def test_same_padded_max_pool_template_reads_back_its_same_padding():
    g = engine.load_graph(TEMPLATES["mnist_rmsprop_cnn"])
    back = engine.check(import_model(exported(g), input_shape(g)))
    # pools 1 and 2 see even sizes: 'same' pads nothing there and the code cannot tell it from padding 0
    assert [back.normalised[n]["padding"] for n in back.order if n.startswith("pool")] == [(0, 0), (0, 0), "same"]


def test_resnet18_arrives_with_its_8_basic_blocks_and_round_trips_exactly():
    g = import_model("torchvision:resnet18", (3, 224, 224), modules=True)
    ops = [n.op for n in g.nodes]
    assert ops.count("BasicBlock") + ops.count("BasicBlockDownsample") == 8
    assert (ops.count("BasicBlock"), ops.count("BasicBlockDownsample")) == (5, 3)
    assert engine.check(g).total_params == 11_689_512
    src = engine.to_python(g)
    assert "class BasicBlock(nn.Module)" in src and "self.layer4 = nn.Sequential(" in src
    back = import_model(exported(g), (3, 224, 224), modules=True)
    assert without_ui(back) == without_ui(g)
    flat = import_model("torchvision:resnet18", (3, 224, 224))
    m, f = engine.build_module(g).eval(), engine.build_module(flat).eval()
    f.load_state_dict({k: v for k, v in zip(f.state_dict(), m.state_dict().values())})  # same order, same layers
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(m(x), f(x))


@pytest.mark.slow
@pytest.mark.parametrize("name, shape, blocks", [
    ("mobilenet_v2", (3, 224, 224), {"InvertedResidual": 10, "InvertedResidual_2": 6, "InvertedResidualConv": 1}),
    ("densenet121", (3, 224, 224), {"DenseBlock": 1, "DenseBlock_2": 1, "DenseBlock_3": 1, "DenseBlock_4": 1}),
    ("inception_v3", (3, 299, 299), {"BasicConv2d": 5, "InceptionA": 3, "InceptionB": 1, "InceptionC": 4,
                                     "InceptionD": 1, "InceptionE": 2}),
])
def test_big_torchvision_models_arrive_collapsed_and_round_trip_exactly(name, shape, blocks):
    g = import_model(f"torchvision:{name}", shape, modules=True)
    assert {k: [n.op for n in g.nodes].count(k) for k in g.modules} == blocks
    flat = import_model(f"torchvision:{name}", shape)
    assert engine.check(g).total_params == engine.check(flat).total_params
    back = import_model(exported(g), shape, modules=True)
    assert without_ui(back) == without_ui(g)
