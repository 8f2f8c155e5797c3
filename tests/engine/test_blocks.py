"""Composite blocks: inserted after an Input they check OK, and their parameter counts and output shapes equal
torch modules written by hand here (and torchvision's own block classes where it has one)."""
from __future__ import annotations

from importlib import import_module

import pytest
import torch
from torch import nn

import engine
from engine.blocks import list_blocks, make_block
from engine.catalog.registry import Param
from tests.engine.catalog.test_ops import assert_matches_torch, graph

# the modules, not the same-named model functions torchvision.models exports
googlenet, resnet, squeezenet, densenet = (import_module(f"torchvision.models.{m}") for m in
                                           ("googlenet", "resnet", "squeezenet", "densenet"))


def numel(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def insert(name: str, shape, **params) -> tuple[dict, str]:
    nodes, out = make_block(name, "blk", "x", **params)
    g = graph([{"id": "x", "op": "Input", "params": {"shape": list(shape)}}] + nodes, outputs=[out])
    return g, out


def check_against(name: str, shape, ref: nn.Module, **params) -> engine.Report:
    g, out = insert(name, shape, **params)
    r = assert_matches_torch(g)
    assert r.ok
    assert r.total_params == numel(ref), f"{name}: engine {r.total_params}, torch {numel(ref)}"
    with torch.no_grad():
        want = ref.eval()(torch.randn(2, *shape)).shape[1:]
    assert r.nodes[out].shape == tuple(want)
    return r


def cbr(cin, cout, k=1, s=1, p=0, eps=1e-5):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout, eps=eps), nn.ReLU())


class Inception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp, k5=3):
        super().__init__()
        self.b1 = cbr(cin, c1, eps=1e-3)
        self.b2 = nn.Sequential(cbr(cin, c3r, eps=1e-3), cbr(c3r, c3, 3, 1, 1, eps=1e-3))
        self.b3 = nn.Sequential(cbr(cin, c5r, eps=1e-3), cbr(c5r, c5, k5, 1, k5 // 2, eps=1e-3))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), cbr(cin, pp, eps=1e-3))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


def test_inception_3a_matches_googlenet():
    params = dict(ch1x1=64, ch3x3red=96, ch3x3=128, ch5x5red=16, ch5x5=32, pool_proj=32)
    r = check_against("inception", (192, 28, 28), Inception(192, 64, 96, 128, 16, 32, 32), **params)
    assert r.total_params == numel(googlenet.Inception(192, 64, 96, 128, 16, 32, 32)) == 155_872  # 64·192 + 96·192 + 128·96·9 + 16·192 + 32·16·9 + 32·192, + BN
    assert r.nodes["blk_concat"].shape == (256, 28, 28)


def test_inception_with_5x5_and_odd_size():
    check_against("inception", (12, 9, 7), Inception(12, 4, 3, 5, 2, 3, 2, k5=5), ch1x1=4, ch3x3red=3, ch3x3=5,
                  ch5x5red=2, ch5x5=3, pool_proj=2, branch3_kernel=5)


def test_inception_without_batch_norm():
    def cr(cin, cout, k=1, p=0):
        return nn.Sequential(nn.Conv2d(cin, cout, k, 1, p), nn.ReLU())
    ref = nn.ModuleList([cr(8, 4), cr(8, 3), cr(3, 5, 3, 1), cr(8, 2), cr(2, 3, 3, 1), cr(8, 2)])
    g, _ = insert("inception", (8, 6, 6), ch1x1=4, ch3x3red=3, ch3x3=5, ch5x5red=2, ch5x5=3, pool_proj=2,
                  batch_norm=False)
    assert assert_matches_torch(g).total_params == numel(ref)


class Basic(nn.Module):
    def __init__(self, cin, cout, stride, project):
        super().__init__()
        self.body = nn.Sequential(cbr(cin, cout, 3, stride, 1), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(cout))
        self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if project \
            else nn.Identity()

    def forward(self, x):
        return torch.relu(self.body(x) + self.short(x))


@pytest.mark.parametrize("cin,cout,stride,project", [(8, 8, 1, False), (8, 16, 2, True), (8, 16, 1, True),
                                                     (8, 8, 2, True)])
def test_residual_block(cin, cout, stride, project):
    r = check_against("residual", (cin, 9, 9), Basic(cin, cout, stride, project), out_channels=cout, stride=stride,
                      input_shape=(cin, 9, 9))
    assert ("blk_proj_conv" in r.nodes) == project
    down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if project else None
    assert r.total_params == numel(resnet.BasicBlock(cin, cout, stride, downsample=down))


def test_residual_projection_needs_a_shape_or_a_choice():
    with pytest.raises(ValueError, match="input_shape"):
        make_block("residual", "r", "x", out_channels=8)
    nodes, _ = make_block("residual", "r", "x", out_channels=8, projection="always")
    assert any(n["id"] == "r_proj_conv" for n in nodes)


class Bottleneck(nn.Module):
    def __init__(self, cin, width, exp, stride, project):
        super().__init__()
        out = width * exp
        self.body = nn.Sequential(cbr(cin, width), cbr(width, width, 3, stride, 1), nn.Conv2d(width, out, 1, bias=False),
                                  nn.BatchNorm2d(out))
        self.short = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out)) if project \
            else nn.Identity()

    def forward(self, x):
        return torch.relu(self.body(x) + self.short(x))


@pytest.mark.parametrize("cin,width,stride", [(16, 4, 1), (8, 4, 2), (16, 4, 2)])
def test_bottleneck_block(cin, width, stride):
    project = stride != 1 or cin != width * 4
    r = check_against("bottleneck", (cin, 7, 8), Bottleneck(cin, width, 4, stride, project), width=width,
                      stride=stride, input_shape=(cin, 7, 8))
    down = nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4)) if project \
        else None
    assert r.total_params == numel(resnet.Bottleneck(cin, width, stride, downsample=down))


class Fire(nn.Module):
    def __init__(self, cin, s, e1, e3):
        super().__init__()
        self.sq = nn.Sequential(nn.Conv2d(cin, s, 1), nn.ReLU())
        self.e1 = nn.Sequential(nn.Conv2d(s, e1, 1), nn.ReLU())
        self.e3 = nn.Sequential(nn.Conv2d(s, e3, 3, padding=1), nn.ReLU())

    def forward(self, x):
        x = self.sq(x)
        return torch.cat([self.e1(x), self.e3(x)], 1)


def test_fire_module():
    r = check_against("fire", (96, 13, 13), Fire(96, 16, 64, 64), squeeze=16, expand1x1=64, expand3x3=64)
    assert r.total_params == numel(squeezenet.Fire(96, 16, 64, 64)) == 11_920


class Dense(nn.Module):
    def __init__(self, cin, n, k, bn_size):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(cin + i * k), nn.ReLU(), nn.Conv2d(cin + i * k, bn_size * k, 1, bias=False),
                          nn.BatchNorm2d(bn_size * k), nn.ReLU(), nn.Conv2d(bn_size * k, k, 3, padding=1, bias=False))
            for i in range(n))

    def forward(self, x):
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, 1)))
        return torch.cat(feats, 1)


@pytest.mark.parametrize("n", [1, 3, 6])
def test_dense_block(n):
    r = check_against("dense", (16, 8, 8), Dense(16, n, 8, 4), num_layers=n, growth_rate=8)
    assert r.nodes["blk_concat"].shape == (16 + 8 * n, 8, 8)
    ref = densenet._DenseBlock(n, 16, bn_size=4, growth_rate=8, drop_rate=0)
    assert r.total_params == numel(ref)


def test_mlpconv_block():
    ref = nn.Sequential(nn.Conv2d(3, 96, 11, 4), nn.ReLU(), nn.Conv2d(96, 96, 1), nn.ReLU(), nn.Conv2d(96, 96, 1),
                        nn.ReLU())
    r = check_against("mlpconv", (3, 67, 67), ref)
    assert r.nodes[r.order[-1]].shape == (96, 15, 15)


def test_blocks_list_ids_and_layout():
    names = [b["name"] for b in list_blocks()]
    assert names == ["inception", "residual", "bottleneck", "fire", "dense", "mlpconv"]
    for b in list_blocks():
        assert b["title"] and all(isinstance(p, Param) for p in b["params"])
        nodes, out = make_block(b["name"], "b7", "prev", projection="always") if b["name"] in ("residual",
                                                                                               "bottleneck") \
            else make_block(b["name"], "b7", "prev")
        ids = [n["id"] for n in nodes]
        assert len(ids) == len(set(ids)) and all(i.startswith("b7_") for i in ids)
        assert out in ids and any("prev" in n["inputs"] for n in nodes)
        assert min(n["ui"]["x"] for n in nodes) == 0 and min(n["ui"]["y"] for n in nodes) >= 0
        assert all(n["ui"]["group"] == "b7" for n in nodes)
        engine.load_graph(graph([{"id": "prev", "op": "Input", "params": {"shape": [8, 32, 32]}}] + nodes, [out]))


def test_two_blocks_in_one_graph_and_bad_params():
    n1, o1 = make_block("fire", "f1", "x", squeeze=4, expand1x1=8, expand3x3=8)
    n2, o2 = make_block("fire", "f2", o1, squeeze=4, expand1x1=8, expand3x3=8)
    g = graph([{"id": "x", "op": "Input", "params": {"shape": [8, 6, 6]}}] + n1 + n2, outputs=[o2])
    assert engine.check(g).nodes[o2].shape == (16, 6, 6)
    with pytest.raises(ValueError, match="squeeze must be ≥ 1"):
        make_block("fire", "f", "x", squeeze=0)
    with pytest.raises(ValueError, match="unknown parameter"):
        make_block("fire", "f", "x", squeez=3)
    with pytest.raises(ValueError, match="unknown block"):
        make_block("vgg", "f", "x")
