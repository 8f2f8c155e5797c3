"""Pretrained torchvision weights map onto the templates that use modules: an instance names its block's module
path, a layer inside a definition its path inside the block, and map_state_dict composes the two."""
from __future__ import annotations

import pytest
import torch
import torchvision

import engine
from engine.fx.importer import map_state_dict
from engine.fx.state_map import flat_sources
from engine.layer_paths import flat_layer_paths
from engine.modules import flatten
from engine.templates import load_template

KWARGS = {"googlenet": {"aux_logits": False, "init_weights": True}}
SIZE = {"googlenet": 96}  # the smallest inputs each network runs on quickly


def randomised(model: torch.nn.Module) -> torch.nn.Module:
    """Batch-norm statistics away from (0, 1), so a layer given the wrong running stats changes the output."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
    return model.eval()


@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_0", pytest.param("googlenet", marks=pytest.mark.slow),
                                  pytest.param("densenet121", marks=pytest.mark.slow)])
def test_torchvision_weights_load_onto_the_modular_template_and_give_torchvisions_outputs(name):
    g = load_template(name)
    assert g.modules  # the template uses modules: the weights go through the instances
    tv = randomised(torchvision.models.get_model(name, weights=None, **KWARGS.get(name, {})))
    net = engine.build_module(g).eval()
    net.load_state_dict(map_state_dict(g, tv.state_dict()), strict=True)  # every tensor the template needs
    x = torch.randn(2, 3, SIZE.get(name, 64), SIZE.get(name, 64))
    with torch.no_grad():
        torch.testing.assert_close(net(x), tv(x))


def test_sources_compose_through_instances_and_nested_instances():
    resnet = load_template("resnet18")
    src = flat_sources(resnet)
    assert src["layer2_0.downsample_0"] == "layer2.0.downsample.0" and src["layer4_1.conv2"] == "layer4.1.conv2"
    assert src["conv1"] == "conv1" and "layer1_0.add" not in src  # a traced function has no module
    dense = flat_sources(load_template("densenet121"))  # dense block > dense layer > conv
    assert dense["denseblock3.denselayer24.conv2"] == "features.denseblock3.denselayer24.conv2"


@pytest.mark.parametrize("name", ["resnet18", "squeezenet1_0", "nin", "unet"])
def test_layer_paths_are_the_built_models_names(name):
    """flat_layer_paths names every layer as the exported classes hold it: layer1.0.conv1, fire2.squeeze."""
    g = load_template(name)
    paths = flat_layer_paths(g)
    flat = flatten(g).graph
    assert set(paths) == {n.id for n in flat.nodes}
    keys = set(engine.build_module(g).state_dict())
    holders = {k.rpartition(".")[0] for k in keys}
    assert holders <= set(paths.values())  # every tensor's layer is a named flat node
    with_weights = {fid for fid in paths if engine.check(flat).nodes[fid].params}
    assert {paths[fid] for fid in with_weights} <= holders


def test_a_template_whose_instances_lack_sources_is_told_what_is_missing():
    """A block without its source path maps nothing inside it: the strict load names the layers left out."""
    g = load_template("resnet18").to_dict()
    for n in g["nodes"]:
        if n["id"] == "layer3_1":
            n["ui"].pop("comment")
    g = engine.load_graph(g)
    net = engine.build_module(g)
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*layer3\.1\.conv1\.weight"):
        net.load_state_dict(map_state_dict(g, torchvision.models.resnet18(weights=None).state_dict()), strict=True)
