"""Totals of what is known: a design with a red node still counts the parameters it can, and says it is partial."""
import json

import pytest
import torch.nn as nn

import engine
from engine.modules import flatten
from engine.totals import known_totals
from tests.conftest import TEMPLATES

NAMES = list(json.loads((TEMPLATES / "index.json").read_text()))


def mnist_net(kernel: int) -> dict:
    """Input 1×28×28 → conv1 (16 filters, `kernel`) → ReLU → conv2 → Flatten → Linear."""
    return {"format": "convas-graph", "version": 1, "nodes": [
        {"id": "input", "op": "Input", "params": {"shape": [1, 28, 28]}},
        {"id": "conv1", "op": "Conv2d", "params": {"out_channels": 16, "kernel_size": kernel}, "inputs": ["input"]},
        {"id": "relu", "op": "ReLU", "inputs": ["conv1"]},
        {"id": "conv2", "op": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3}, "inputs": ["relu"]},
        {"id": "flat", "op": "Flatten", "inputs": ["conv2"]},
        {"id": "fc", "op": "Linear", "params": {"out_features": 10}, "inputs": ["flat"]}], "outputs": ["fc"]}


@pytest.mark.parametrize("name", NAMES)
def test_a_design_that_checks_out_totals_what_the_report_does(name):
    r = engine.check(TEMPLATES / f"{name}.json")
    assert r.ok
    t = known_totals(r)
    assert not t.partial and t.unknown == [] and t.params_unknown == []
    assert (t.params, t.macs) == (r.total_params, r.total_macs)
    assert t.memory(96) == r.memory_estimate(96)


def test_a_kernel_too_large_still_counts_its_weights_and_marks_the_rest_unknown():
    r = engine.check(mnist_net(40))
    assert not r.ok and r.total_params == 0  # the report alone: nothing known, the page used to read 0
    t = known_totals(r)
    assert t.params == sum(p.numel() for p in nn.Conv2d(1, 16, 40).parameters()) == 25_616
    assert t.macs == 0 and t.activations == 0  # conv1's output is unknown, so are its MACs
    assert t.partial and t.unknown == ["conv1", "relu", "conv2", "flat", "fc"]
    assert t.params_unknown == ["relu", "conv2", "flat", "fc"]  # below the error: their inputs are unknown
    assert t.memory(64)["total"] == 25_616 * 4 * 4  # weights, gradients, two Adam slots; no activations known


def test_an_error_further_down_keeps_everything_above_it():
    g = mnist_net(5)
    g["nodes"][3]["params"]["kernel_size"] = 30  # conv2 on 16×24×24
    r = engine.check(g)
    t = known_totals(r)
    conv1 = nn.Conv2d(1, 16, 5)
    conv2 = nn.Conv2d(16, 8, 30)
    assert t.params == sum(p.numel() for m in (conv1, conv2) for p in m.parameters())
    assert r.nodes["conv1"].macs == 16 * 24 * 24 * 25
    assert t.macs == r.nodes["conv1"].macs + r.nodes["relu"].macs
    assert t.activations == 2 * 16 * 24 * 24  # conv1's and relu's outputs
    assert t.unknown == ["conv2", "flat", "fc"] and t.params_unknown == ["flat", "fc"]


def test_a_node_whose_input_is_wrong_does_not_guess_its_weights():
    g = mnist_net(5)
    g["nodes"][5]["inputs"] = ["conv2"]  # Linear fed an image: its in_features are in doubt (Flatten was meant)
    del g["nodes"][4]
    r = engine.check(g)
    t = known_totals(r)
    assert r.nodes["fc"].error and t.unknown == ["fc"] and t.params_unknown == ["fc"]
    assert t.params == r.total_params == sum(r.nodes[n].params for n in ("conv1", "conv2"))


def test_a_design_with_modules_counts_the_activations_inside_its_instances():
    """Memory counts what backward keeps: every inner layer's output, not only each instance's."""
    g = engine.load_graph(TEMPLATES / "unet.json").to_dict()
    t = known_totals(engine.check(g))
    flat = engine.check(flatten(engine.load_graph(g)).graph)
    assert t.activations == flat.activation_count() and t.memory(8) == flat.memory_estimate(8)
    next(n for n in g["nodes"] if n["id"] == "head")["params"]["kernel_size"] = 100  # the last layer breaks
    r = engine.check(g)
    t = known_totals(r)
    assert t.unknown == ["head"] and t.activations == flat.activation_count() - 11 * 64 * 64
