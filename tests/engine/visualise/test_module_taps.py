"""Inspect reads every layer inside the module instances of a template (layer1_0.conv1), not only the top level:
the taps of the modular model give the same tensors as the flat build's at the same flat id."""
from __future__ import annotations

import pytest
import torch

import engine
from engine.codegen import node_names
from engine.layer_paths import flat_layer_paths
from engine.modules import flatten
from engine.templates import load_template
from engine.visualise.guard import ModelGuard
from engine.visualise.layers import Capture, conv_taps, taps


@pytest.mark.parametrize("name, layers", [
    ("resnet18", ["layer1_0.conv1", "layer2_0.downsample_0", "layer2_0.add", "layer4_1.relu_1", "fc"]),
    ("unet", ["enc1.conv1", "bottleneck.relu2", "skip1", "dec1.bn2", "head"]),
])
def test_taps_reach_inside_instances_and_read_what_the_flat_build_computes(name, layers):
    g = load_template(name).to_dict()
    g["nodes"][0]["params"]["shape"][1:] = [64, 64]  # ResNet at 64×64: the same layers, a fraction of the work
    g = engine.load_graph(g)
    flat = flatten(g).graph
    model, flat_model = engine.build_module(g).eval(), engine.build_module(flat).eval()
    paths, flat_names = flat_layer_paths(g), node_names(flat)
    state = model.state_dict()  # the same weights in both, by flat id
    flat_model.load_state_dict({k: state[paths[fid] + k[len(flat_names[fid]):]] for k in flat_model.state_dict()
                                for fid in [next(f for f, a in flat_names.items() if k.startswith(a + "."))]})
    found, flat_found = taps(g, model), taps(flat, flat_model)
    assert set(found) == set(flat_found)  # every layer the flat design offers, by the same id
    assert set(conv_taps(g, model)) == {n.id for n in flat.nodes if n.op in ("Conv2d", "ConvTranspose2d")}
    x = torch.randn(2, *flat.nodes[0].params["shape"])
    for layer in layers:
        assert found[layer].shape == flat_found[layer].shape
        with ModelGuard(model) as guard, torch.no_grad():
            got = Capture(guard, found[layer]).run(model, x)
        with ModelGuard(flat_model) as guard, torch.no_grad():
            want = Capture(guard, flat_found[layer]).run(flat_model, x)
        torch.testing.assert_close(got, want)
        assert tuple(got.shape[1:]) == found[layer].shape
