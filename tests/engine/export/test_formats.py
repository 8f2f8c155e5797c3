"""Export formats: py, TorchScript, torch.export (.pt2), ONNX (checked with onnxruntime), safetensors; weights;
atomic writes."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import engine
from engine.errors import GraphError
from engine.export import formats as ex
from engine.graph import load_graph

ROOT = Path(__file__).resolve().parents[3]
LENET = ROOT / "assets" / "templates" / "lenet5.json"
SAME_POOL = ROOT / "assets" / "templates" / "mnist_rmsprop_cnn.json"  # asymmetric 'same' pooling (7 -> 4)

# two inputs, two outputs, a merge and a dropout: everything an exporter may get wrong about names and order
TWO_HEADS = {
    "format": "convas-graph", "version": 1, "name": "two heads",
    "nodes": [
        {"id": "image", "op": "Input", "params": {"shape": [3, 9, 9]}},
        {"id": "mask", "op": "Input", "params": {"shape": [1, 9, 9]}},
        {"id": "cat", "op": "Concat", "inputs": ["image", "mask"]},
        {"id": "conv", "op": "Conv2d", "params": {"out_channels": 5, "kernel_size": 4, "stride": 2, "padding": "same"},
         "inputs": ["cat"]},
        {"id": "drop", "op": "Dropout", "params": {"p": 0.5}, "inputs": ["conv"]},
        {"id": "flat", "op": "Flatten", "inputs": ["drop"]},
        {"id": "logits", "op": "Linear", "params": {"out_features": 7}, "inputs": ["flat"]},
    ],
    "outputs": ["logits", "conv"],
}

# MaxUnpool2d after an asymmetric 'same' pool: its generated forward does not script, so TorchScript falls back
# to tracing; the trace must still take any batch size
UNPOOL = {
    "format": "convas-graph", "version": 1,
    "nodes": [{"id": "input", "op": "Input", "params": {"shape": [2, 7, 7]}},
              {"id": "pool", "op": "MaxPool2d", "params": {"kernel_size": 2, "padding": "same"}, "inputs": ["input"]},
              {"id": "conv", "op": "Conv2d", "params": {"out_channels": 2, "padding": 1}, "inputs": ["pool"]},
              {"id": "un", "op": "MaxUnpool2d", "params": {"pool": "pool"}, "inputs": ["conv"]}],
    "outputs": ["un"],
}
# the ops that came with EfficientNet, ShuffleNet and ConvNeXt: a channel split, a shuffle, LayerNorm2d, a learned
# per-channel scale and stochastic depth on a residual branch
MODERN = {
    "format": "convas-graph", "version": 1,
    "nodes": [{"id": "x", "op": "Input", "params": {"shape": [6, 5, 5]}},
              {"id": "a", "op": "Chunk", "params": {"chunks": 2, "index": 0}, "inputs": ["x"]},
              {"id": "b", "op": "Chunk", "params": {"chunks": 2, "index": 1}, "inputs": ["x"]},
              {"id": "conv", "op": "Conv2d", "params": {"out_channels": 3, "padding": 1}, "inputs": ["b"]},
              {"id": "ln", "op": "LayerNorm2d", "inputs": ["conv"]},
              {"id": "scale", "op": "LayerScale", "params": {"init_value": 0.5}, "inputs": ["ln"]},
              {"id": "drop", "op": "StochasticDepth", "params": {"p": 0.2}, "inputs": ["scale"]},
              {"id": "res", "op": "Add", "inputs": ["drop", "b"]},
              {"id": "cat", "op": "Concat", "inputs": ["a", "res"]},
              {"id": "shuffle", "op": "ChannelShuffle", "params": {"groups": 2}, "inputs": ["cat"]}],
    "outputs": ["shuffle"],
}
GRAPHS = [LENET, SAME_POOL, TWO_HEADS, UNPOOL, MODERN]
GRAPH_IDS = ["lenet5", "same_pool", "two_heads", "unpool", "modern"]


def trained_state(g) -> dict[str, torch.Tensor]:
    """Weights that differ from any fresh init, so a test sees whether they were used."""
    torch.manual_seed(123)
    return {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in engine.build_module(g).state_dict().items()}


def reference(g, state, inputs):
    m = engine.build_module(g)
    m.load_state_dict(state)
    m.eval()
    with torch.no_grad():
        out = m(*inputs)
    return out if isinstance(out, tuple) else (out,)


def inputs_for(g, batch: int) -> tuple[torch.Tensor, ...]:
    return ex.example_inputs(load_graph(g), batch=batch, seed=batch)


def test_py_is_to_python(tmp_path):
    out = ex.export(LENET, "py", tmp_path / "net.py")
    assert out.read_text(encoding="utf-8") == engine.to_python(LENET)
    with pytest.raises(ValueError, match="safetensors"):
        ex.export(LENET, "py", tmp_path / "net.py", state_dict=trained_state(LENET))


@pytest.mark.parametrize("graph", GRAPHS, ids=GRAPH_IDS)
def test_torchscript_loads_and_matches(graph, tmp_path):
    state = trained_state(graph)
    path = ex.export(graph, "torchscript", tmp_path / "net.pt", state_dict=state)
    loaded = torch.jit.load(str(path))
    loaded.eval()
    for batch in (1, 5):  # the batch dimension is not baked in
        x = inputs_for(graph, batch)
        with torch.no_grad():
            got = loaded(*x)
        got = got if isinstance(got, tuple) else (got,)
        for a, b in zip(got, reference(graph, state, x), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("graph", GRAPHS, ids=GRAPH_IDS)
def test_onnx_runs_in_onnxruntime_and_matches(graph, tmp_path):
    state = trained_state(graph)
    path = ex.export(graph, "onnx", tmp_path / "net.onnx", state_dict=state)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {ex.ONNX_OPSET}
    g = load_graph(graph)
    names = engine.codegen.node_names(g)
    want_inputs = [names[i] for i in ex.input_ids(g)]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == want_inputs
    assert [o.name for o in sess.get_outputs()] == [names[o] for o in g.outputs]
    for batch in (1, 3):
        x = inputs_for(graph, batch)
        got = sess.run(None, {n: t.numpy() for n, t in zip(want_inputs, x, strict=True)})
        for a, b in zip(got, reference(graph, state, x), strict=True):
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("graph", GRAPHS, ids=GRAPH_IDS)
def test_pt2_loads_back_with_torch_export_and_matches(graph, tmp_path):
    state = trained_state(graph)
    path = ex.export(graph, "pt2", tmp_path / "net.pt2", state_dict=state)
    program = torch.export.load(str(path))
    assert isinstance(program, torch.export.ExportedProgram)
    loaded = program.module()
    for batch in (1, 5):  # the batch dimension is not baked in
        x = inputs_for(graph, batch)
        with torch.no_grad():
            got = loaded(*x)
        got = got if isinstance(got, tuple) else (got,)
        for a, b in zip(got, reference(graph, state, x), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_pt2_carries_the_design():
    extra = {ex.PT2_GRAPH_FILE: ""}
    g = load_graph(TWO_HEADS)
    data = ex.pt2_bytes(ex.to_exported_program(engine.build_module(g).eval(), g), g)
    torch.export.load(io.BytesIO(data), extra_files=extra)
    assert load_graph(extra[ex.PT2_GRAPH_FILE]).to_json() == g.to_json()


def test_torchscript_scripts_when_it_can_and_traces_otherwise():
    scripted = ex.to_torchscript(engine.build_module(LENET).eval(), inputs_for(LENET, 2))
    traced = ex.to_torchscript(engine.build_module(UNPOOL).eval(), inputs_for(UNPOOL, 2))
    assert not isinstance(scripted, torch.jit.TracedModule) and isinstance(traced, torch.jit.TracedModule)


def test_safetensors_holds_the_weights_and_the_design(tmp_path):
    state = trained_state(TWO_HEADS)
    path = ex.export(TWO_HEADS, "safetensors", tmp_path / "w.safetensors", state_dict=state)
    loaded = load_file(str(path))
    assert loaded.keys() == state.keys()
    for k in state:
        assert torch.equal(loaded[k], state[k])
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert meta["format"] == "convas-weights"
    assert load_graph(meta["graph"]) == load_graph(TWO_HEADS)
    assert ex.read_weights(path).keys() == state.keys()


def test_without_weights_a_fresh_init_is_exported(tmp_path):
    path = ex.export(LENET, "safetensors", tmp_path / "w.safetensors")
    assert load_file(str(path)).keys() == engine.build_module(LENET).state_dict().keys()


def test_weights_that_do_not_fit_are_refused_by_name(tmp_path):
    state = trained_state(LENET)
    state["conv1.weight"] = torch.zeros(1, 2, 3)
    del state["fc3.bias"]
    state["extra"] = torch.zeros(1)
    with pytest.raises(ValueError) as e:
        ex.export(LENET, "onnx", tmp_path / "net.onnx", state_dict=state)
    msg = str(e.value)
    assert "missing fc3.bias" in msg and "unexpected extra" in msg and "conv1.weight" in msg
    assert not (tmp_path / "net.onnx").exists()


def test_read_weights_unwraps_checkpoints_and_never_unpickles_code(tmp_path):
    state = trained_state(LENET)
    torch.save({"model": state, "epoch": 3}, tmp_path / "ckpt.pt")
    assert ex.read_weights(tmp_path / "ckpt.pt").keys() == state.keys()

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"model": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="evil.pt is not a weights file Convas can load and was not loaded: it asks "
                                         "to import print"):  # in our words, never torch's weights_only advice
        ex.read_weights(tmp_path / "evil.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="state_dict"):
        ex.read_weights(tmp_path / "list.pt")


def test_bad_requests_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown export format"):
        ex.export(LENET, "keras", tmp_path / "x")
    bad = json.loads(LENET.read_text(encoding="utf-8"))
    bad["nodes"][1]["op"] = "Conv3d"
    with pytest.raises(GraphError):
        ex.export(bad, "onnx", tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    out = tmp_path / "net.onnx"
    out.write_bytes(b"previous export")

    def boom(*a, **k):
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(torch.onnx, "export", boom)
    with pytest.raises(RuntimeError):
        ex.export(LENET, "onnx", out)
    assert out.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["net.onnx"]


def test_format_from_suffix():
    assert [ex.format_for(f"m{s}") for s in (".py", ".pt", ".pt2", ".ONNX", ".safetensors", ".zip")] == \
        ["py", "torchscript", "pt2", "onnx", "safetensors", None]
