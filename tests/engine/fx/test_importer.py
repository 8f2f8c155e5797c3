"""engine.import_model: torch.fx tracing into graph files, checked against torch itself (outputs, shapes, counts)."""
from __future__ import annotations

import ast
import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

import engine
from engine.__main__ import main
from engine.fx.importer import ImportModelError, import_model, map_state_dict, source_of


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights AND random BatchNorm statistics, so a weight mapped to the wrong place cannot go unnoticed."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                r = torch.rand(t.shape, generator=gen)
                t.copy_(0.5 + r if name.endswith("running_var") else (r - 0.5) * 0.5)
    return model.eval()


def compiled_with_source_weights(g, source: nn.Module) -> nn.Module:
    net = engine.build_module(g).eval()
    net.load_state_dict(map_state_dict(g, source.state_dict()), strict=True)
    return net


def max_diff(a: nn.Module, b: nn.Module, *xs: torch.Tensor) -> float:
    with torch.no_grad():
        return (a(*xs) - b(*xs)).abs().max().item()


# ---- the acceptance test -------------------------------------------------------------------------------

def test_resnet18_imported_compiled_and_given_torchvision_weights_matches_torchvision():
    g = import_model("torchvision:resnet18", (3, 224, 224))
    tv = randomise(torchvision.models.resnet18(weights=None))
    assert engine.check(g).total_params == 11_689_512 == sum(p.numel() for p in tv.parameters())
    net = compiled_with_source_weights(g, tv)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    assert max_diff(net, tv, x) <= 1e-5


def test_resnet18_graph_structure():
    g = import_model("torchvision:resnet18", (3, 224, 224))
    ids = {n.id: n for n in g.nodes}
    assert g.nodes[0].op == "Input" and g.nodes[0].params["shape"] == [3, 224, 224]
    # ids are fx's node names
    assert ids["conv1"].op == "Conv2d" and ids["layer1_0_conv1"].op == "Conv2d"
    assert ids["layer2_0_downsample_0"].params == {"out_channels": 128, "kernel_size": 1, "stride": 2, "bias": False}
    assert [n.op for n in g.nodes].count("Add") == 8
    assert ids["fc"].params["out_features"] == 1000 and g.outputs == ["fc"]
    assert g.task is not None and (g.task.kind, g.task.num_classes) == ("classification", 1000)
    assert source_of(ids["layer1_0_conv1"]) == "layer1.0.conv1" and ids["layer1_0_conv1"].ui.group == "layer1.0"
    r = engine.check(g)
    assert r.ok and r.nodes["layer4_1_relu_1"].shape == (512, 7, 7) and r.nodes["fc"].shape == (1000,)


@pytest.mark.parametrize("name, shape", [("alexnet", (3, 64, 64)), ("squeezenet1_0", (3, 64, 64)),
                                         ("googlenet", (3, 64, 64)), ("densenet121", (3, 32, 32)),
                                         ("mobilenet_v3_small", (3, 64, 64))])
def test_torchvision_models_match_torch(name, shape):
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    tv = randomise(torchvision.models.get_model(name, weights=None, **kwargs))
    g = import_model(tv, shape)
    assert engine.check(g).total_params == sum(p.numel() for p in tv.parameters())
    net = compiled_with_source_weights(g, tv)
    assert max_diff(net, tv, torch.randn(2, *shape)) <= 1e-5


# ---- custom modules --------------------------------------------------------------------------------------------

class Branchy(nn.Module):
    """Two branches concatenated, a residual add, a shared conv called twice, functional and method calls."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.left = nn.Conv2d(8, 4, 1)
        self.right = nn.Sequential(nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(4, 4, 3, padding=1))
        self.shared = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Linear(8 * 4 * 4, 10)
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        y = torch.cat([self.left(x), self.right(x)], dim=1)  # 8 channels again
        x = x + y
        x = self.shared(self.shared(x).relu())  # the same weights twice
        x = F.max_pool2d(x, 2)
        x = F.avg_pool2d(x, kernel_size=2, stride=2)
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.head(self.drop(x)), dim=1)


def test_custom_module_with_branches_matches_torch():
    src = randomise(Branchy())
    g = import_model(src, (3, 16, 16))
    ops = [n.op for n in g.nodes]
    assert ops.count("Concat") == 1 and ops.count("Add") == 1 and ops.count("Conv2d") == 6
    cat = next(n for n in g.nodes if n.op == "Concat")
    assert cat.inputs == ["left", "right_2"] and cat.params == {}  # torch dim 1 = channels = catalog dim 0
    assert [n.id for n in g.nodes if source_of(n) == "shared"] == ["shared", "shared_1"]
    assert next(n for n in g.nodes if n.op == "LogSoftmax").params == {}
    assert "Flatten" in ops
    net = compiled_with_source_weights(g, src)
    assert max_diff(net, src, torch.randn(2, 3, 16, 16)) <= 1e-5


class Zoo(nn.Module):
    """One of nearly every converter: activations, norms, pools, padding, upsampling, gates, reshapes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 6, (3, 5), stride=(1, 2), padding=(1, 2), dilation=1, groups=2, bias=False)
        self.lrn = nn.LocalResponseNorm(3, alpha=2e-4, beta=0.7, k=1.5)
        self.act = nn.ModuleList([nn.LeakyReLU(0.2), nn.ELU(0.5), nn.GELU("tanh"), nn.SiLU(), nn.Hardswish()])
        self.pad = nn.ZeroPad2d((1, 0, 2, 1))
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False, ceil_mode=True)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.deconv = nn.ConvTranspose2d(6, 6, 3, stride=2, padding=1, output_padding=1)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(6, 6, 1), nn.Hardsigmoid())
        self.amax = nn.AdaptiveMaxPool2d((2, 3))
        self.ln = nn.LayerNorm([6, 2, 3])
        self.fc = nn.Linear(36, 12)
        self.bn1 = nn.BatchNorm1d(12, eps=1e-3, momentum=0.2)
        self.ident = nn.Identity()
        self.soft = nn.Softmax(dim=-1)

    def forward(self, x):
        x = self.lrn(self.conv(x))
        for act in self.act:
            x = act(x)
        x = torch.sigmoid(F.pad(self.pad(x), (1, 1, 1, 1)))
        x = self.up(self.pool(x)).tanh()
        x = F.interpolate(self.deconv(x), size=(10, 12), mode="bilinear", align_corners=False)
        x = x * self.gate(x)
        pooled = x.mean((2, 3))  # GlobalAvgPool2d + Flatten
        x = self.ln(self.amax(x))
        x = torch.flatten(x, 1).contiguous()
        x = self.ident(self.bn1(self.fc(x)))
        return self.soft(x.reshape(-1, 3, 4)), F.softmax(x, dim=1), pooled


def test_zoo_of_converters_matches_torch():
    src = randomise(Zoo())
    g = import_model(src, (2, 9, 17))
    ops = {n.op for n in g.nodes}
    assert {"LocalResponseNorm", "LeakyReLU", "ELU", "GELU", "SiLU", "Hardswish", "ZeroPad2d", "Sigmoid",
            "AvgPool2d", "Upsample", "Tanh", "ConvTranspose2d", "AdaptiveAvgPool2d", "Hardsigmoid", "Multiply",
            "AdaptiveMaxPool2d", "LayerNorm", "Flatten", "Linear", "BatchNorm1d", "Identity", "Reshape",
            "Softmax", "GlobalAvgPool2d"} <= ops
    assert len(g.outputs) == 3
    net = compiled_with_source_weights(g, src)
    x = torch.randn(2, 2, 9, 17)
    with torch.no_grad():
        for a, b in zip(net(x), src(x)):
            assert a.shape == b.shape and (a - b).abs().max().item() <= 1e-5


class SubPixel(nn.Module):
    """ESPCN-style upsampling (a conv to C·r² channels, then PixelShuffle) and its functional twins."""

    def __init__(self):
        super().__init__()
        self.down = nn.PixelUnshuffle(2)
        self.conv = nn.Conv2d(12, 3 * 9, 3, padding=1)
        self.shuffle = nn.PixelShuffle(3)

    def forward(self, x):  # (B, 3, 6, 8)
        h = self.conv(self.down(x))  # (B, 27, 3, 4)
        return self.shuffle(h), F.pixel_unshuffle(F.pixel_shuffle(h, 3), 3)  # (B, 3, 9, 12), (B, 27, 3, 4)


def test_pixel_shuffle_model_imports_and_matches_torch():
    src = randomise(SubPixel())
    g = import_model(src, (3, 6, 8))
    params = {op: [n.params for n in g.nodes if n.op == op] for op in ("PixelShuffle", "PixelUnshuffle")}
    assert params["PixelShuffle"] == [{"upscale_factor": 3}] * 2  # the module and F.pixel_shuffle
    assert params["PixelUnshuffle"] == [{"downscale_factor": 2}, {"downscale_factor": 3}]
    r = engine.check(g)
    assert r.ok and r.nodes[g.outputs[0]].shape == (3, 9, 12) and r.nodes[g.outputs[1]].shape == (27, 3, 4)
    assert r.total_params == sum(p.numel() for p in src.parameters())
    net = compiled_with_source_weights(g, src)
    x = torch.randn(2, 3, 6, 8)
    with torch.no_grad():
        for a, b in zip(net(x), src(x)):
            assert a.shape == b.shape and (a - b).abs().max().item() <= 1e-5


class RowsLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 32, batch_first=True)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):  # (B, 1, 28, 28)
        seq = x.permute(0, 2, 1, 3).flatten(2)  # (B, 28 rows, 28 pixels)
        out, _ = self.lstm(seq)
        return self.fc(out[:, -1])


def test_lstm_over_rows_becomes_tosequence_and_last_step():
    src = randomise(RowsLSTM())
    g = import_model(src, (1, 28, 28))
    assert [n.op for n in g.nodes] == ["Input", "ToSequence", "LSTM", "Linear"]
    assert g.node("lstm").params == {"hidden_size": 32}  # return_sequence False: the last step
    net = compiled_with_source_weights(g, src)
    assert max_diff(net, src, torch.randn(2, 1, 28, 28)) <= 1e-5


class UsesState(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 8, batch_first=True)

    def forward(self, x):
        out, h = self.gru(x)
        return out + h.transpose(0, 1)


class Unpool(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)

    def forward(self, x):
        y, idx = self.pool(x)
        return self.unpool(y, idx)


def test_maxpool_indices_feed_maxunpool():
    g = import_model(Unpool(), (3, 8, 8))
    assert g.node("unpool").op == "MaxUnpool2d" and g.node("unpool").params == {"pool": "pool"}
    x = torch.randn(2, 3, 8, 8)
    assert max_diff(engine.build_module(g).eval(), Unpool().eval(), x) == 0


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(1, 4, 1)

    def forward(self, image, mask):
        return self.a(image) + self.b(mask)


def test_model_with_two_inputs():
    src = randomise(TwoInputs())
    g = import_model(src, [(3, 8, 8), (1, 8, 8)])
    assert [(n.id, n.params["shape"]) for n in g.nodes if n.op == "Input"] == [("image", [3, 8, 8]),
                                                                               ("mask", [1, 8, 8])]
    net = compiled_with_source_weights(g, src)
    x, m = torch.randn(2, 3, 8, 8), torch.randn(2, 1, 8, 8)
    assert max_diff(net, src, x, m) <= 1e-6
    with pytest.raises(ImportModelError, match="takes 2 input"):
        import_model(src, (3, 8, 8))


def test_weights_of_modules_the_graph_does_not_use_are_left_out():
    """GoogLeNet with its auxiliary heads: eval-mode tracing skips them, and so does the weight mapping."""
    tv = randomise(torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True))
    g = import_model(tv, (3, 64, 64))
    assert engine.check(g).total_params == 6_624_904
    mapped = map_state_dict(g, tv.state_dict())
    assert not any("aux" in k for k in mapped) and any(k.startswith("aux1.") for k in tv.state_dict())
    net = compiled_with_source_weights(g, tv)
    assert max_diff(net, tv, torch.randn(2, 3, 64, 64)) <= 1e-5


# ---- refusals ----------------------------------------------------------------------------------------------------

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.pad = nn.ReflectionPad2d(1)  # PixelShuffle was the example here until the catalog gained it

    def forward(self, x):
        x = torch.roll(self.conv(x), 1, 2)
        return self.pad(torch.roll(x, 1, 3))


def test_unsupported_ops_are_named_once_with_counts():
    with pytest.raises(ImportModelError) as e:
        import_model(Net(), (3, 8, 8))
    assert str(e.value) == ("cannot import Net: unsupported ops torch.roll (2×), nn.ReflectionPad2d (1×). "
                            "The catalog has no op or pattern for them.")


@pytest.mark.parametrize("model, shape, message", [
    (UsesState(), (5, 4), "nn.GRU's final state (h) (1×)"),
    (nn.Sequential(nn.Conv2d(3, 3, 3, padding_mode="circular", padding=1)), (3, 8, 8),
     "nn.Conv2d(padding_mode='circular') (1×)"),
    (nn.Sequential(nn.BatchNorm2d(3, momentum=None)), (3, 4, 4), "nn.BatchNorm2d(momentum=None) (1×)"),
    (nn.Sequential(nn.LSTM(4, 4)), (5, 4), "nn.LSTM(batch_first=False) (1×)"),
])
def test_refusals_name_what_the_catalog_cannot_express(model, shape, message):
    with pytest.raises(ImportModelError, match="unsupported ops") as e:
        import_model(model, shape)
    assert message in str(e.value)


class DataDependent(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


def test_untraceable_model_is_refused_with_the_reason():
    with pytest.raises(ImportModelError, match="cannot trace DataDependent with torch.fx"):
        import_model(DataDependent(), (3, 4, 4))


def test_bad_sources_and_shapes_are_refused_with_a_message():
    with pytest.raises(ImportModelError, match="torchvision has no model 'resnet19'. Did you mean"):
        import_model("torchvision:resnet19")
    with pytest.raises(ImportModelError, match="must be 'torchvision:<model name>' or an nn.Module"):
        import_model("resnet18")
    with pytest.raises(ImportModelError, match="list of positive sizes"):
        import_model(Branchy(), (3, 0, 16))
    with pytest.raises(ImportModelError, match="does not run on an input of shape 3×8×8"):
        import_model(Branchy(), (3, 8, 8))  # its Linear expects 16×16 images


def test_import_restores_train_mode_and_never_changes_the_source():
    src = Branchy().train()
    src.right.eval()
    before = {k: v.clone() for k, v in src.state_dict().items()}
    import_model(src, (3, 16, 16))
    assert src.training and src.stem.training and not src.right.training and not src.right[0].training
    assert all(torch.equal(before[k], v) for k, v in src.state_dict().items())


def test_state_dict_mapping_follows_renamed_nodes():
    """The source path lives in ui.comment, so renaming a node on the canvas keeps the mapping."""
    src = randomise(Branchy())
    data = import_model(src, (3, 16, 16)).to_dict()
    rename = {"stem": "first conv", "left": "class"}  # ids codegen must sanitise
    for n in data["nodes"]:
        n["id"] = rename.get(n["id"], n["id"])
        n["inputs"] = [rename.get(i, i) for i in n.get("inputs", [])]
    g = engine.load_graph(data)
    net = compiled_with_source_weights(g, src)
    assert max_diff(net, src, torch.randn(2, 3, 16, 16)) <= 1e-5


def test_hostile_module_names_become_safe_ids():
    m = nn.Sequential()
    m.add_module("x; import os", nn.Conv2d(1, 2, 3))
    m.add_module("__import__('os')", nn.ReLU())
    g = import_model(m, (1, 5, 5))
    for n in g.nodes:
        assert n.id.isidentifier()
    tree = ast.parse(engine.to_python(g))
    imported = {a.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names}
    assert imported == {"torch", "nn", "torch.nn.functional"}
    assert not any(isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" for node in ast.walk(tree))
    net = compiled_with_source_weights(g, randomise(m))
    assert max_diff(net, m, torch.randn(2, 1, 5, 5)) <= 1e-6


def test_imported_graph_is_laid_out_top_to_bottom():
    g = import_model(Branchy(), (3, 16, 16))
    pos = {n.id: (n.ui.x, n.ui.y) for n in g.nodes}
    assert len(set(pos.values())) == len(pos)
    for n in g.nodes:
        for i in n.inputs:
            assert pos[i][1] < pos[n.id][1]
    assert pos["left"][1] == pos["right_0"][1] and pos["left"][0] != pos["right_0"][0]  # branches side by side


# ---- command line ------------------------------------------------------------------------------------------------

def test_cli_import_writes_a_graph_file(tmp_path, capsys):
    out = tmp_path / "r18.json"
    assert main(["import", "torchvision:resnet18", "--input-shape", "3", "64", "64", "-o", str(out)]) == 0
    assert "11,689,512 parameters" in capsys.readouterr().out
    g = engine.load_graph(out)
    assert g.nodes[0].params["shape"] == [3, 64, 64] and engine.check(g).nodes["fc"].shape == (1000,)
    assert json.loads(out.read_text())["format"] == "convas-graph"


def test_cli_import_refusals_exit_1_and_bad_sources_exit_2(tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(["import", "torchvision:vit_b_16", "-o", str(out)]) == 1
    assert "unsupported ops" in capsys.readouterr().err and not out.exists()
    assert main(["import", "resnet18", "-o", str(out)]) == 2
    assert "torchvision:<model name>" in capsys.readouterr().err


@pytest.mark.parametrize("model, shape", [(Zoo(), (2, 9, 17)), (RowsLSTM(), (1, 28, 28)), (Unpool(), (3, 8, 8)),
                                          (Branchy(), (3, 16, 16))])
def test_fake_tensor_and_real_runs_give_the_same_graph(monkeypatch, model, shape):
    """Shapes are normally recorded on fake tensors (no arithmetic); the real-tensor fallback must agree."""
    import engine.fx.importer as fx_import

    assert fx_import._record_fake(torch.fx.symbolic_trace(model.eval()), [shape]) is not None
    fast = import_model(model, shape)
    monkeypatch.setattr(fx_import, "_record_fake", lambda gm, shapes, vocab=None: None)
    assert import_model(model, shape).to_dict() == fast.to_dict()
