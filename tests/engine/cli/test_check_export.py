"""python -m engine check / export: tables, JSON, exit codes, formats, weights."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file, save_file

import engine
from engine.__main__ import main

ROOT = Path(__file__).resolve().parents[3]
LENET = ROOT / "assets" / "templates" / "lenet5.json"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def broken(tmp_path) -> Path:
    data = json.loads(LENET.read_text(encoding="utf-8"))
    data["nodes"] = [n for n in data["nodes"] if n["op"] != "Flatten"]  # Linear now fed C×H×W
    for n in data["nodes"]:
        n["inputs"] = [i if i != "flat" else "pool2" for i in n.get("inputs", [])]
    data["nodes"][-1]["params"]["kernal_size"] = 5  # fc3: an independent second error
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_check_prints_a_table_and_exits_0(capsys):
    code, out, _ = run(capsys, "check", LENET)
    assert code == 0
    r = engine.check(engine.load_graph(LENET))
    lines = out.splitlines()
    assert lines[0].split() == ["node", "op", "output", "params", "MACs"]
    for nid, node in r.nodes.items():
        row = next(line for line in lines if line.split()[:1] == [nid])
        assert f"{node.params:,}" in row and f"{node.macs:,}" in row
        assert engine.catalog.arith.fmt_shape(node.shape) in row
    assert "61,706 parameters" in out


def test_check_json_is_the_report(capsys):
    code, out, _ = run(capsys, "check", LENET, "--json")
    assert code == 0
    assert json.loads(out) == json.loads(json.dumps(engine.check(engine.load_graph(LENET)).to_dict()))


def test_check_reports_every_error_and_exits_1(capsys, broken):
    code, out, _ = run(capsys, "check", broken)
    assert code == 1
    assert "\n2 problems:\n" in out and "kernal_size" in out and "Insert a Flatten" in out
    code, out, _ = run(capsys, "check", broken, "--json")
    assert code == 1
    d = json.loads(out)
    assert d == json.loads(json.dumps(engine.check(broken.read_text(encoding="utf-8")).to_dict()))
    assert d["ok"] is False and len(d["errors"]) == 2


def test_check_counts_what_is_known_when_a_node_is_in_error(capsys, tmp_path):
    g = engine.load_graph(LENET).to_dict()
    conv = next(n for n in g["nodes"] if n["op"] == "Conv2d")
    conv["params"] = {**conv["params"], "kernel_size": 40, "padding": 0}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(g), encoding="utf-8")
    code, out, _ = run(capsys, "check", path, "--batch-size", "32")
    assert code == 1
    r = engine.check(g)
    out_ch, in_ch = conv["params"]["out_channels"], r.nodes[conv["inputs"][0]].shape[0]
    weights = out_ch * in_ch * 40 * 40 + out_ch  # its own weights, as torch's nn.Conv2d would hold them
    assert f"total (partial: ≥): {weights:,} parameters, 0 MACs per sample" in out and "at batch 32" in out
    assert "\n1 problem:\n" in out


def test_check_assumes_the_batch_size_training_uses(capsys):
    from engine.train.defaults import default_batch_size

    _, out, _ = run(capsys, "check", LENET)
    assert f"to train at batch {default_batch_size()}" in out


def test_check_unreadable_file_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "check", tmp_path / "nope.json")
    assert code == 2 and "cannot read" in err
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    code, _, err = run(capsys, "check", tmp_path / "bin.json")
    assert code == 2 and "UTF-8" in err
    (tmp_path / "text.json").write_text("not json", encoding="utf-8")
    code, out, _ = run(capsys, "check", tmp_path / "text.json")
    assert code == 1 and "not valid JSON" in out


def test_export_every_format(capsys, tmp_path):
    for fmt, name in (("py", "net.py"), ("torchscript", "net.pt"), ("pt2", "net.pt2"), ("onnx", "net.onnx"),
                      ("safetensors", "net.safetensors")):
        code, out, err = run(capsys, "export", LENET, "--format", fmt, "-o", tmp_path / name)
        assert code == 0, err
        assert f"wrote {tmp_path / name} ({fmt}" in out
    assert (tmp_path / "net.py").read_text(encoding="utf-8") == engine.to_python(LENET)
    code, _, _ = run(capsys, "export", LENET, "-o", tmp_path / "by_suffix.onnx")  # format from the suffix
    assert code == 0 and (tmp_path / "by_suffix.onnx").stat().st_size > 200_000


def test_export_with_weights_uses_them(capsys, tmp_path):
    torch.manual_seed(5)
    model = engine.build_module(LENET).eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    code, _, err = run(capsys, "export", LENET, "-f", "onnx", "-o", tmp_path / "m.onnx", "--weights",
                       tmp_path / "w.safetensors")
    assert code == 0, err
    x = torch.randn(2, 1, 28, 28)
    got = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input_": x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got[0]), model(x), rtol=1e-4, atol=1e-4)
    code, _, _ = run(capsys, "export", LENET, "-o", tmp_path / "copy.safetensors", "--weights",
                     tmp_path / "w.safetensors")
    assert code == 0
    assert all(torch.equal(a, b) for a, b in zip(load_file(str(tmp_path / "copy.safetensors")).values(),
                                                  load_file(str(tmp_path / "w.safetensors")).values()))


def test_export_failures_have_clear_messages_and_codes(capsys, tmp_path, broken):
    code, _, err = run(capsys, "export", broken, "-o", tmp_path / "x.onnx")
    assert code == 1 and "2 problem(s)" in err and "kernal_size" in err
    code, _, err = run(capsys, "export", LENET, "-o", tmp_path / "x.bin")
    assert code == 2 and "--format" in err
    code, _, err = run(capsys, "export", tmp_path / "missing.json", "-o", tmp_path / "x.onnx")
    assert code == 2 and "cannot read" in err
    save_file({"nope": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    code, _, err = run(capsys, "export", LENET, "-o", tmp_path / "x.onnx", "--weights", tmp_path / "bad.safetensors")
    assert code == 2 and "do not fit" in err and "unexpected nope" in err
    code, _, err = run(capsys, "export", LENET, "-o", tmp_path / "x.onnx", "--weights", tmp_path / "none.safetensors")
    assert code == 2 and "cannot read weights" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors", "broken.json"]


def test_the_real_command_line(tmp_path):
    res = subprocess.run([sys.executable, "-m", "engine", "check", str(LENET), "--json"], capture_output=True,
                         text=True, cwd=ROOT)
    assert res.returncode == 0 and json.loads(res.stdout)["total_params"] == 61_706
    res = subprocess.run([sys.executable, "-m", "engine", "export", str(LENET), "--format", "py", "-o",
                          str(tmp_path / "net.py")], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "net.py").read_text(encoding="utf-8") == engine.to_python(LENET)
