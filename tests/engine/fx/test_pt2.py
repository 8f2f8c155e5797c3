"""Import of .pt2 archives: a Convas export comes back exactly (design and weights) without torch.export.load,
and files that are not Convas .pt2 archives are refused with a message, never unpickled or run."""
from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
import torch._export.serde.serialize as serde
import torch.nn.functional as F
from safetensors.torch import load_file

import engine
from engine.__main__ import main
from engine.export import formats as ex
from engine.fx import pt2
from engine.fx.pt2 import Pt2Error, import_pt2
from tests.engine.fx.test_import_modern import Convnextish

ROOT = Path(__file__).resolve().parents[3]
LENET = ROOT / "assets" / "templates" / "lenet5.json"


def trained(g) -> dict[str, torch.Tensor]:
    torch.manual_seed(7)
    return {k: torch.randn_like(v) if v.is_floating_point() else v + 3
            for k, v in engine.build_module(g).state_dict().items()}


@pytest.fixture(scope="module")
def convnextish(tmp_path_factory):
    """A design with LayerNorm2d, LayerScale, StochasticDepth and BatchNorm-free 1×1 convs, exported with weights."""
    g = engine.import_model(Convnextish(), (3, 8, 8))
    state = trained(g)
    path = ex.export(g, "pt2", tmp_path_factory.mktemp("pt2") / "net.pt2", state_dict=state)
    return g, state, path


def test_a_convas_pt2_comes_back_with_its_design_and_weights(convnextish):
    g, state, path = convnextish
    g2, weights = import_pt2(path)
    assert g2.to_json() == g.to_json()
    assert weights.keys() == state.keys() and all(torch.equal(weights[k], state[k]) for k in state)
    net = engine.build_module(g2).eval()
    net.load_state_dict(weights, strict=True)
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():  # torch's own reading of the same file is the oracle (the file is ours: trusted)
        torch.testing.assert_close(net(x), torch.export.load(str(path)).module()(x))


def test_buffers_and_integer_tensors_come_back(tmp_path):
    g = engine.load_graph(LENET)
    bn = json.loads(g.to_json())
    first = bn["nodes"][1]["id"]
    bn["nodes"].insert(2, {"id": "bn", "op": "BatchNorm2d", "inputs": [first]})
    nxt = next(n for n in bn["nodes"][3:] if first in n.get("inputs", []))
    nxt["inputs"] = ["bn" if i == first else i for i in nxt["inputs"]]
    state = trained(bn)
    path = ex.export(bn, "pt2", tmp_path / "bn.pt2", state_dict=state)
    _, weights = import_pt2(path)
    assert weights["bn.num_batches_tracked"].dtype == torch.int64
    assert all(torch.equal(weights[k], state[k]) for k in state)


def test_the_dtype_table_agrees_with_torch_export():
    for code, dtype in pt2._DTYPES.items():
        assert int(serde._TORCH_TO_SERIALIZE_DTYPE[dtype]) == code


def test_cli_import_pt2_writes_the_graph_and_the_weights(convnextish, tmp_path, capsys):
    g, state, path = convnextish
    out, w = tmp_path / "g.json", tmp_path / "w.safetensors"
    assert main(["import", str(path), "-o", str(out), "--weights-out", str(w)]) == 0
    assert "imported" in capsys.readouterr().out
    assert engine.load_graph(out).to_json() == g.to_json()
    assert all(torch.equal(load_file(str(w))[k], state[k]) for k in state)


# ---- refusals: nothing in the file runs ---------------------------------------------------------------------------

def rewrite(src: Path, dst: Path, change) -> Path:
    """Copy a .pt2 entry by entry through change(name, bytes) -> bytes | None (None drops the entry)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)
    return dst


class Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/convas_pt2_pwned",))


def test_a_pickled_weight_is_refused_and_never_unpickled(convnextish, tmp_path):
    _, _, path = convnextish
    marker = Path("/tmp/convas_pt2_pwned")
    marker.unlink(missing_ok=True)

    def change(name, data):
        if name.endswith("model_weights_config.json"):
            cfg = json.loads(data)
            first = next(iter(cfg["config"].values()))
            first["use_pickle"] = True
            return json.dumps(cfg).encode()
        if name.endswith("data/weights/weight_0"):
            return pickle.dumps(Boom())
        return data

    bad = rewrite(path, tmp_path / "bad.pt2", change)
    with pytest.raises(Pt2Error, match="stored as a pickle"):
        import_pt2(bad)
    assert not marker.exists()


class Elsewhere(torch.nn.Module):
    """A model Convas never saw, saved with torch.export.save: every aten op the reader maps."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 3, padding=1, stride=(1, 2))
        self.bn = torch.nn.BatchNorm2d(6)
        self.dw = torch.nn.Conv2d(12, 12, 3, padding=1, groups=12, bias=False)
        self.norm = torch.nn.LayerNorm(48)
        self.fc = torch.nn.Linear(48, 5)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = torch.cat([F.max_pool2d(y, 2), F.avg_pool2d(y, 2)], dim=1)
        y = F.hardtanh(self.dw(F.silu(y)), 0.0, 6.0) + torch.sigmoid(y) * y
        y = F.dropout(torch.flatten(F.adaptive_avg_pool2d(F.gelu(y), (2, 2)), 1), 0.1, training=False)
        return torch.softmax(self.fc(self.norm(y)), dim=1)


def randomised(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(11)
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                v.copy_(torch.rand_like(v) + 0.5 if k.endswith("running_var") else torch.randn_like(v) * 0.5)
    return model.eval()


def save_elsewhere(model, path: Path, shape=(3, 8, 16)) -> Path:
    program = torch.export.export(model, (torch.randn(2, *shape),), dynamic_shapes=({0: torch.export.Dim("b")},))
    torch.export.save(program, str(path))
    return path


def test_a_pt2_made_elsewhere_imports_op_by_op_without_being_run(tmp_path):
    model = randomised(Elsewhere())
    g, weights = import_pt2(save_elsewhere(model, tmp_path / "other.pt2"))
    assert engine.check(g).total_params == sum(p.numel() for p in model.parameters())
    assert {"Conv2d", "BatchNorm2d", "Concat", "LayerNorm", "Softmax", "ReLU6", "GELU"} <= {n.op for n in g.nodes}
    net = engine.build_module(g).eval()
    net.load_state_dict(weights, strict=True)
    x = torch.randn(4, 3, 8, 16)
    with torch.no_grad():
        torch.testing.assert_close(net(x), model(x), rtol=1e-5, atol=1e-5)


class Rolls(torch.nn.Module):
    def forward(self, x):
        return torch.roll(torch.roll(x, 1, 2), 1, 3).cumsum(1)


def test_a_pt2_made_elsewhere_with_unknown_ops_is_refused_naming_them(tmp_path):
    with pytest.raises(Pt2Error, match=r"unsupported ops aten\.roll\.default \(2×\), aten\.cumsum\.default \(1×\)\."):
        import_pt2(save_elsewhere(Rolls(), tmp_path / "rolls.pt2"))


def test_code_in_a_pt2_is_never_evaluated(tmp_path):
    """torch.export.load evaluates the symbolic sizes (sympy) and unpickles the sample inputs; the reader does
    neither: a file whose expressions and sample inputs would run code imports without running it."""
    marker = Path("/tmp/convas_pt2_pwned")
    marker.unlink(missing_ok=True)
    path = save_elsewhere(randomised(Elsewhere()), tmp_path / "clean.pt2")
    evil = "__import__('os').system('touch /tmp/convas_pt2_pwned')"

    def change(name, data):
        if name.endswith("models/model.json"):
            return data.replace(b"Symbol(", b"(" + evil.encode() + b") or Symbol(")
        if name.endswith("data/sample_inputs/model.pt"):
            return pickle.dumps(Boom())
        return data

    g, _ = import_pt2(rewrite(path, tmp_path / "evil.pt2", change))
    assert engine.check(g).ok and not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"not a zip at all", "not a .pt2 archive"),
    (b"", "not a .pt2 archive"),
])
def test_files_that_are_not_archives_are_refused(tmp_path, content, message):
    (tmp_path / "x.pt2").write_bytes(content)
    with pytest.raises(Pt2Error, match=message):
        import_pt2(tmp_path / "x.pt2")


def zip_of(tmp_path, entries: dict[str, bytes]) -> Path:
    path = tmp_path / "z.pt2"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def test_archives_that_are_not_torch_export_archives_are_refused(tmp_path):
    with pytest.raises(Pt2Error, match="archive_format"):
        import_pt2(zip_of(tmp_path, {"a/readme.txt": b"hi"}))
    with pytest.raises(Pt2Error, match="unsafe path"):
        import_pt2(zip_of(tmp_path, {"a/archive_format": b"pt2", "a/../../etc/x": b""}))
    with pytest.raises(Pt2Error, match="AOTInductor"):
        import_pt2(zip_of(tmp_path, {"a/archive_format": b"pt2", "a/data/aotinductor/model/x.so": b"\x7fELF"}))


def test_sizes_are_bounded_while_reading(convnextish, tmp_path, monkeypatch):
    _, _, path = convnextish
    monkeypatch.setattr(pt2, "MAX_JSON_BYTES", 100)
    with pytest.raises(Pt2Error, match="up to 100 are read"):
        import_pt2(path)
    monkeypatch.setattr(pt2, "MAX_PT2_BYTES", 1000)
    with pytest.raises(Pt2Error, match="files up to 1,000 bytes"):
        import_pt2(path)


def test_weights_that_do_not_fit_the_design_are_refused(convnextish, tmp_path):
    g, _, path = convnextish

    def design(edit):
        def change(name, data):
            if name.endswith("extra/" + ex.PT2_GRAPH_FILE):
                d = json.loads(data)
                edit(next(n for n in d["nodes"] if n["op"] == "Conv2d")["params"])
                return json.dumps(d).encode()
            return data
        return change

    with pytest.raises(Pt2Error, match="do not fit the design.*the design needs \\(8, 3, 1, 1\\)"):
        import_pt2(rewrite(path, tmp_path / "other_design.pt2", design(lambda p: p.update(kernel_size=1))))
    with pytest.raises(Pt2Error, match="fails the shape check"):
        import_pt2(rewrite(path, tmp_path / "broken_design.pt2", design(lambda p: p.update(out_channels=9))))
    corrupt = rewrite(path, tmp_path / "short.pt2",
                      lambda name, data: data[:3] if name.endswith("data/weights/weight_0") else data)
    with pytest.raises(Pt2Error, match="fewer elements"):
        import_pt2(corrupt)


def test_a_tensor_described_larger_than_its_bytes_allow_is_refused_before_it_is_built(convnextish, tmp_path):
    _, _, path = convnextish

    def huge(name, data):
        if name.endswith("model_weights_config.json"):
            cfg = json.loads(data)
            meta = next(iter(cfg["config"].values()))["tensor_meta"]
            meta["sizes"] = [{"as_int": 1 << 40}]  # stride 0: one stored float, a 4 TiB tensor
            meta["strides"] = [{"as_int": 0}]
            return json.dumps(cfg).encode()
        return data

    with pytest.raises(Pt2Error, match="exceed"):
        import_pt2(rewrite(path, tmp_path / "huge.pt2", huge))


class InPlace(torch.nn.Module):
    """What torchvision's blocks write: in-place activations and residual adds, x.view(B, -1) before the head."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.act = torch.nn.ReLU(inplace=True)
        self.fc = torch.nn.Linear(3 * 4 * 4, 2)

    def forward(self, x):
        y = self.act(self.conv(x))
        y += x
        return self.fc(F.hardswish(y, inplace=True).contiguous().view(y.size(0), -1))


def test_in_place_ops_and_views_from_elsewhere_import(tmp_path):
    model = randomised(InPlace())
    g, weights = import_pt2(save_elsewhere(model, tmp_path / "inplace.pt2", shape=(3, 4, 4)))
    assert [n.op for n in g.nodes] == ["Input", "Conv2d", "ReLU", "Add", "Hardswish", "Flatten", "Linear"]
    net = engine.build_module(g).eval()
    net.load_state_dict(weights, strict=True)
    x = torch.randn(3, 3, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(net(x), model(x))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_models_saved_by_torch_export_import(name, tmp_path):
    import torchvision

    model = randomised(torchvision.models.get_model(name, weights=None))
    g, weights = import_pt2(save_elsewhere(model, tmp_path / f"{name}.pt2", shape=(3, 64, 64)))
    assert engine.check(g).total_params == sum(p.numel() for p in model.parameters())
    net = engine.build_module(g).eval()
    net.load_state_dict(weights, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x), model(x), rtol=1e-4, atol=1e-4)
