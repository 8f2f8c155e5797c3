"""Import of the torchvision models that need more than one call per op: EfficientNet (stochastic depth),
ShuffleNet (channel split and shuffle), ConvNeXt (channel-last blocks, LayerNorm2d, layer scale); vit_b_16's
refusal. torch is the oracle: parameter counts from torchvision, outputs compared on random weights."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn
import torchvision
from torchvision.models.convnext import CNBlock, LayerNorm2d
from torchvision.models.shufflenetv2 import InvertedResidual
from torchvision.ops import SqueezeExcitation, StochasticDepth

import engine
from engine.fx.importer import ImportModelError, import_model, map_state_dict
from tests.engine.fx.test_importer import compiled_with_source_weights, max_diff, randomise


def exported_with_source_weights(g, source: nn.Module) -> nn.Module:
    """What a user does with the Export page's .py: exec the file, build(), load the source's mapped weights."""
    namespace: dict = {}
    exec(compile(engine.to_python(g), "exported.py", "exec"), namespace)  # noqa: S102 - our own export
    net = namespace["build"]().eval()
    net.load_state_dict(map_state_dict(g, source.state_dict()), strict=True)
    return net


def assert_imports_exactly(model: nn.Module, shape: tuple[int, ...], atol: float = 1e-5) -> engine.Graph:
    model = randomise(model)
    g = import_model(model, shape)
    assert engine.check(g).total_params == sum(p.numel() for p in model.parameters())
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))
    assert max_diff(compiled_with_source_weights(g, model), model, x) <= atol
    assert max_diff(exported_with_source_weights(g, model), model, x) <= atol
    return g


def ops(g) -> list[str]:
    return [n.op for n in g.nodes]


# ---- small blocks (fast) ---------------------------------------------------------------------------------------

class DropPathSE(nn.Module):
    """EfficientNet's MBConv tail: a squeeze-and-excitation gate, then stochastic depth on the residual branch."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.se = SqueezeExcitation(8, 2)
        self.drop = StochasticDepth(0.2, "row")

    def forward(self, x):
        return x + self.drop(self.se(self.conv(x)))


def test_stochastic_depth_and_se_gate_import():
    g = assert_imports_exactly(DropPathSE(), (8, 6, 6))
    sd = next(n for n in g.nodes if n.op == "StochasticDepth")
    assert sd.params == {"p": 0.2, "mode": "row"}
    assert ops(g).count("Multiply") == 1  # the SE gate: x * sigmoid(fc(pool(x)))


def test_stochastic_depth_follows_the_compiled_modules_training_mode():
    g = import_model(DropPathSE(), (8, 6, 6))
    net = engine.build_module(g).train()
    x = torch.randn(32, 8, 6, 6)
    branch_dropped = (net(x) - x).flatten(1).abs().sum(dim=1) == 0
    assert 0 < branch_dropped.sum() < 32  # some samples lost their branch: row mode, p = 0.2, only in training


@pytest.mark.parametrize("stride", [1, 2])
def test_shufflenet_unit_imports_with_chunk_and_channel_shuffle(stride):
    g = assert_imports_exactly(InvertedResidual(16, 16, stride), (16, 8, 8))
    assert ops(g).count("ChannelShuffle") == 1
    assert ops(g).count("Chunk") == (2 if stride == 1 else 0)
    assert not {"Reshape", "Permute"} & set(ops(g))  # the view/transpose/view is one op, not three
    shuffle = next(n for n in g.nodes if n.op == "ChannelShuffle")
    assert shuffle.params == {"groups": 2}


class HalfUsed(nn.Module):
    def forward(self, x):
        a, b = x.chunk(3, dim=1)[1:]
        return torch.cat([b, a], dim=1)


def test_chunk_pieces_become_nodes_in_order():
    g = assert_imports_exactly(HalfUsed(), (7, 2, 2))
    pieces = [n for n in g.nodes if n.op == "Chunk"]
    assert [n.params.get("index", 0) for n in pieces] == [0, 1, 2]
    assert engine.check(g).nodes[pieces[2].id].shape == (1, 2, 2)  # ⌈7/3⌉ = 3, 3, then the 1 left


class ShuffleByHand(nn.Module):
    def forward(self, x):
        b, c, h, w = x.size()
        x = x.view(b, 4, c // 4, h, w).transpose(1, 2).contiguous()
        return x.view(b, -1, h, w)


def test_channel_shuffle_pattern_with_other_groups():
    g = assert_imports_exactly(ShuffleByHand(), (12, 3, 3))
    assert ops(g) == ["Input", "ChannelShuffle"] and g.nodes[1].params == {"groups": 4}


class Convnextish(nn.Module):
    """ConvNeXt's stem, one block and its downsampling: LayerNorm2d (permute, F.layer_norm, permute) and CNBlock
    (depthwise conv, permute, LayerNorm, Linear, GELU, Linear, permute, layer scale, stochastic depth, +)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 2, stride=2), LayerNorm2d(8, eps=1e-6))
        self.block = CNBlock(8, layer_scale=1e-6, stochastic_depth_prob=0.1)
        self.down = nn.Sequential(LayerNorm2d(8, eps=1e-6), nn.Conv2d(8, 16, 2, stride=2))

    def forward(self, x):
        return self.down(self.block(self.stem(x)))


def test_convnext_block_imports_channel_first():
    g = assert_imports_exactly(Convnextish(), (3, 8, 8))
    assert ops(g).count("LayerNorm2d") == 3 and ops(g).count("LayerScale") == 1
    assert ops(g).count("StochasticDepth") == 1
    convs = [n for n in g.nodes if n.op == "Conv2d" and n.params.get("kernel_size") == 1]
    assert [n.params["out_channels"] for n in convs] == [32, 8]  # the block's two Linear layers, as 1×1 convs
    r = engine.check(g)
    assert all(len(r.nodes[n.id].shape) == 3 and r.nodes[n.id].shape[0] in (8, 16, 32) for n in g.nodes[1:])
    scale = next(n for n in g.nodes if n.op == "LayerScale")
    assert scale.params == {}  # torchvision starts the factors at 1e-6, the catalog default


def test_layer_scale_keeps_an_init_value_other_than_the_default():
    block = CNBlock(8, layer_scale=0.5, stochastic_depth_prob=0.0).eval()
    g = import_model(block, (8, 4, 4))
    assert next(n for n in g.nodes if n.op == "LayerScale").params == {"init_value": 0.5}


class PermuteElsewhere(nn.Module):
    def forward(self, x):
        return x.permute(0, 2, 3, 1).mean(dim=1)


def test_a_permute_that_is_not_undone_is_still_refused():
    with pytest.raises(ImportModelError, match=r"Tensor\.permute \(1×"):
        import_model(PermuteElsewhere(), (3, 4, 4))


# ---- the refusal message -----------------------------------------------------------------------------------------

def test_vit_refusal_is_short_and_names_each_op_once_with_its_count_and_reason():
    with pytest.raises(ImportModelError) as e:
        import_model("torchvision:vit_b_16", (3, 224, 224))
    msg = str(e.value)
    assert len(msg) < 500
    assert "nn.MultiheadAttention (12×: no attention op)" in msg
    assert "Tensor.expand (1×" in msg and "a tensor attribute used directly (2×" in msg
    for label in ("nn.MultiheadAttention", "a tensor attribute used directly", "Tensor.permute", "Tensor.expand",
                  "operator.add with broadcasting (Add needs equal shapes)"):
        assert msg.count(f"{label} (") == 1, label
    assert len(re.findall(r"\(\d+×", msg)) == 5, msg


class Many(nn.Module):
    """Thirteen kinds of call the catalog has no op for, one of each."""

    def forward(self, x):
        x = torch.flip(torch.logcumsumexp(torch.cumsum(torch.roll(x, 1, 2), 2), 2), (2,))
        x = torch.triu(torch.tril(torch.rot90(torch.flipud(torch.fliplr(x)), 1, (2, 3)))).exp2()
        return torch.square(torch.erfinv(x.sign()))


def test_a_long_refusal_lists_the_most_frequent_ops_and_counts_the_rest():
    with pytest.raises(ImportModelError) as e:
        import_model(Many(), (3, 4, 4))
    msg = str(e.value)
    assert "torch.roll (1×)" in msg and "and 5 more kind(s) of call (5×)" in msg and len(msg) < 400, msg


# ---- whole torchvision models --------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name, params", [("efficientnet_b0", 5_288_548), ("shufflenet_v2_x1_0", 2_278_604),
                                          ("convnext_tiny", 28_589_128)])
def test_torchvision_model_imports_with_exact_counts_and_outputs(name, params):
    tv = torchvision.models.get_model(name, weights=None)
    assert sum(p.numel() for p in tv.parameters()) == params
    assert_imports_exactly(tv, (3, 64, 64), atol=1e-4)
