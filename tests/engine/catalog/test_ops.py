"""One test per op: the inferred shape and parameter count equal what the compiled torch module produces.

`oracle` builds the graph with engine.build_module, runs a batch through it and returns every node's real output
shape (all nodes are made graph outputs) and every layer's real parameter count: torch is the judge.
"""
from __future__ import annotations

import pytest
import torch

import engine
from engine.catalog import list_ops

BATCH = 2


def chain(shape, *layers, dtype="float32") -> dict:
    """Input(shape) → layers in a line; each layer is (op, params). Node ids are n0, n1, …"""
    nodes = [{"id": "x", "op": "Input", "params": {"shape": list(shape), "dtype": dtype}}]
    prev = "x"
    for i, (op, params) in enumerate(layers):
        nodes.append({"id": f"n{i}", "op": op, "params": params, "inputs": [prev]})
        prev = f"n{i}"
    return graph(nodes)


def graph(nodes: list[dict], outputs: list[str] | None = None) -> dict:
    outs = outputs or [n["id"] for n in nodes if n["op"] != "Input"]
    return {"format": "convas-graph", "version": 1, "nodes": nodes, "outputs": outs}


def sample(shape, dtype: str, batch: int = BATCH, vocab: int = 10) -> torch.Tensor:
    if dtype == "int64":
        return torch.randint(0, vocab, (batch, *shape))
    return torch.randn(batch, *shape)


def oracle(g: dict, batch: int = BATCH, vocab: int = 10) -> tuple[engine.Report, dict, dict]:
    """(report, {output node: real shape without batch}, {node: real parameter count}) for a valid graph."""
    r = engine.check(g)
    assert r.ok, [str(e) for e in r.errors]
    m = engine.build_module(g).eval()
    inputs = [n for n in g["nodes"] if n["op"] == "Input"]
    xs = [sample(n["params"]["shape"], n["params"].get("dtype", "float32"), batch, vocab) for n in inputs]
    with torch.no_grad():
        ys = m(*xs)
    if not isinstance(ys, tuple):
        ys = (ys,)
    shapes = {o: tuple(y.shape[1:]) for o, y in zip(g["outputs"], ys)}
    for o, y in zip(g["outputs"], ys):
        assert y.shape[0] == batch, f"{o} lost the batch dimension: {tuple(y.shape)}"
    counts = {}
    for n in g["nodes"]:
        sub = getattr(m, n["id"], None)
        if isinstance(sub, torch.nn.Parameter):  # a node that is one learned tensor (LayerScale)
            counts[n["id"]] = sub.numel()
        else:
            counts[n["id"]] = sum(p.numel() for p in sub.parameters()) if isinstance(sub, torch.nn.Module) else 0
    assert sum(counts.values()) == sum(p.numel() for p in m.parameters())
    return r, shapes, counts


def assert_matches_torch(g: dict, **kw) -> engine.Report:
    r, shapes, counts = oracle(g, **kw)
    for nid, shape in shapes.items():
        assert r.nodes[nid].shape == shape, f"{nid}: inferred {r.nodes[nid].shape}, torch {shape}"
    for nid, count in counts.items():
        assert r.nodes[nid].params == count, f"{nid}: inferred {r.nodes[nid].params} params, torch {count}"
    assert r.total_params == sum(counts.values())
    return r


# op -> cases: (input shape, [(op, params), ...], dtype); the op under test is the last layer unless noted
CASES: dict[str, list] = {
    "Input": [((3, 5, 7), [("Identity", {})])],
    "DetectionHead": [((8, 6, 6), [("DetectionHead", {})]), ((3, 5, 7), [("DetectionHead", {"num_classes": 1})]),
                      ((16, 1, 1), [("DetectionHead", {"num_classes": 80})])],
    "ReLU": [((3, 5, 7), [("ReLU", {})])],
    "LeakyReLU": [((4,), [("LeakyReLU", {"negative_slope": 0.2})])],
    "ELU": [((3, 5), [("ELU", {"alpha": 0.5})])],
    "GELU": [((3, 5, 7), [("GELU", {"approximate": "tanh"})])],
    "Sigmoid": [((6,), [("Sigmoid", {})])],
    "Tanh": [((6,), [("Tanh", {})])],
    "ReLU6": [((2, 3, 3), [("ReLU6", {})])],
    "SiLU": [((2, 3, 3), [("SiLU", {})])],
    "Hardswish": [((2, 3, 3), [("Hardswish", {})])],
    "Hardsigmoid": [((2, 3, 3), [("Hardsigmoid", {})])],
    "Softmax": [((10,), [("Softmax", {})]), ((4, 3, 3), [("Softmax", {"dim": 0})]),
                ((5, 7), [("Softmax", {"dim": -1})])],
    "LogSoftmax": [((10,), [("LogSoftmax", {})]), ((5, 7), [("LogSoftmax", {"dim": 1})])],
    "Flatten": [((3, 5, 7), [("Flatten", {})])],
    "Linear": [((12,), [("Linear", {"out_features": 5})]), ((4, 12), [("Linear", {"out_features": 3, "bias": False})])],
    "Reshape": [((3, 4, 5), [("Reshape", {"shape": [6, 10]})]), ((3, 4, 5), [("Reshape", {"shape": [5, -1, 2]})])],
    "Identity": [((3, 4, 5), [("Identity", {})])],
    "ZeroPad2d": [((2, 5, 6), [("ZeroPad2d", {"padding": [2]})]),
                  ((2, 5, 6), [("ZeroPad2d", {"padding": [1, 0, 3, -2]})])],
    "ToSequence": [((3, 28, 7), [("ToSequence", {})])],
    "Dropout": [((3, 4, 5), [("Dropout", {"p": 0.3})])],
    "Dropout2d": [((3, 4, 5), [("Dropout2d", {"p": 0.3})])],
    "Conv2d": [((3, 9, 8), [("Conv2d", {"out_channels": 6, "kernel_size": [3, 2], "stride": [2, 1], "groups": 3,
                                        "dilation": [1, 2], "padding": "same"})])],
    "ConvTranspose2d": [((4, 5, 6), [("ConvTranspose2d", {"out_channels": 6, "kernel_size": 3, "stride": 2,
                                                          "padding": 1, "output_padding": 1, "groups": 2})])],
    "MaxPool2d": [((3, 9, 10), [("MaxPool2d", {"kernel_size": 3, "stride": 2, "ceil_mode": True})]),
                  ((3, 9, 10), [("MaxPool2d", {"kernel_size": 2, "padding": "same"})])],
    "AvgPool2d": [((3, 9, 10), [("AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True})]),
                  ((3, 9, 10), [("AvgPool2d", {"kernel_size": [2, 3], "padding": "same", "stride": 2})])],
    "GlobalAvgPool2d": [((3, 9, 10), [("GlobalAvgPool2d", {})])],
    "GlobalMaxPool2d": [((3, 9, 10), [("GlobalMaxPool2d", {})])],
    "AdaptiveAvgPool2d": [((3, 9, 10), [("AdaptiveAvgPool2d", {"output_size": [4, 3]})]),
                          ((3, 3, 2), [("AdaptiveAvgPool2d", {"output_size": 6})])],
    "AdaptiveMaxPool2d": [((3, 9, 10), [("AdaptiveMaxPool2d", {"output_size": 2})])],
    "BedOfNailsUnpool2d": [((3, 4, 5), [("BedOfNailsUnpool2d", {"scale_factor": [2, 3]})])],
    "NearestUnpool2d": [((3, 4, 5), [("NearestUnpool2d", {"scale_factor": 2})])],
    "PixelShuffle": [((8, 3, 5), [("PixelShuffle", {})]), ((18, 2, 1), [("PixelShuffle", {"upscale_factor": 3})]),
                     ((5, 4, 3), [("PixelShuffle", {"upscale_factor": 1})])],
    "PixelUnshuffle": [((3, 4, 6), [("PixelUnshuffle", {})]),
                       ((2, 9, 3), [("PixelUnshuffle", {"downscale_factor": 3})]),
                       ((2, 4, 4), [("PixelUnshuffle", {}), ("Conv2d", {"out_channels": 4, "kernel_size": 1}),
                                    ("PixelShuffle", {})])],
    "Upsample": [((3, 4, 5), [("Upsample", {"scale_factor": 1.5, "mode": "bilinear"})]),
                 ((3, 4, 5), [("Upsample", {"size": [7, 9]})])],
    "BatchNorm1d": [((12,), [("BatchNorm1d", {})]), ((4, 9), [("BatchNorm1d", {"affine": False})])],
    "BatchNorm2d": [((5, 4, 3), [("BatchNorm2d", {"eps": 1e-3, "momentum": 0.01})])],
    "LayerNorm": [((5, 4, 3), [("LayerNorm", {"normalized_dims": 3})]), ((6, 8), [("LayerNorm", {})]),
                  ((5, 4, 3), [("LayerNorm", {"normalized_dims": 2, "elementwise_affine": False})])],
    "LayerNorm2d": [((5, 4, 3), [("LayerNorm2d", {})]), ((5, 4, 3), [("LayerNorm2d", {"elementwise_affine": False})])],
    "LayerScale": [((6, 4, 3), [("LayerScale", {})]), ((1, 2, 2), [("LayerScale", {"init_value": 0.5})])],
    "StochasticDepth": [((3, 4, 5), [("StochasticDepth", {"p": 0.2})]), ((7,), [("StochasticDepth", {"mode": "batch"})])],
    "ChannelShuffle": [((6, 4, 3), [("ChannelShuffle", {"groups": 3})]), ((4, 1, 1), [("ChannelShuffle", {"groups": 4})])],
    "Chunk": [((7, 4, 3), [("Chunk", {"chunks": 3, "index": 2})]), ((4, 5, 3), [("Chunk", {"dim": 1, "index": 1})]),
              ((6, 5), [("Chunk", {"chunks": 4, "dim": 1, "index": 2})])],
    "LocalResponseNorm": [((6, 4, 3), [("LocalResponseNorm", {"size": 3, "alpha": 2e-4, "k": 2.0})])],
    "LSTM": [((7, 5), [("LSTM", {"hidden_size": 4})]),
             ((7, 5), [("LSTM", {"hidden_size": 4, "num_layers": 3, "bidirectional": True, "dropout": 0.1,
                                 "return_sequence": True})]),
             ((7, 5), [("LSTM", {"hidden_size": 3, "num_layers": 2, "bidirectional": True, "bias": False})])],
    "GRU": [((7, 5), [("GRU", {"hidden_size": 4, "return_sequence": True})]),
            ((7, 5), [("GRU", {"hidden_size": 4, "num_layers": 2, "bidirectional": True})])],
    "Embedding": [((9,), [("Embedding", {"num_embeddings": 10, "embedding_dim": 4, "padding_idx": 0})], "int64")],
    "RBM": [((13,), [("RBM", {"hidden": 4})]), ((13,), [("RBM", {"hidden": 3, "visible_units": "softmax"})]),
            ((13,), [("RBM", {"hidden": 5}), ("Linear", {"out_features": 2})])],
}


def _cases():
    for op, cases in CASES.items():
        for i, case in enumerate(cases):
            yield pytest.param(case[0], case[1], case[2] if len(case) > 2 else "float32", id=f"{op}-{i}")


@pytest.mark.parametrize("shape,layers,dtype", _cases())
def test_op_matches_torch(shape, layers, dtype):
    assert_matches_torch(chain(shape, *layers, dtype=dtype))


MULTI_INPUT = {"Add", "Concat", "Multiply", "MaxUnpool2d"}  # tested with graphs below


def test_every_op_has_a_case():
    missing = set(list_ops()) - set(CASES) - MULTI_INPUT
    assert not missing, f"ops without a torch comparison in CASES: {sorted(missing)}"
    assert len(list_ops()) >= 30


def test_add_concat_multiply_match_torch():
    nodes = [{"id": "x", "op": "Input", "params": {"shape": [4, 6, 5]}},
             {"id": "a", "op": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3, "padding": 1}, "inputs": ["x"]},
             {"id": "s", "op": "Add", "inputs": ["x", "a", "x"]},
             {"id": "g", "op": "GlobalAvgPool2d", "inputs": ["s"]},
             {"id": "gate", "op": "Sigmoid", "inputs": ["g"]},
             {"id": "m", "op": "Multiply", "inputs": ["s", "gate"]},
             {"id": "m2", "op": "Multiply", "inputs": ["gate", "m", "a"]},
             {"id": "c", "op": "Concat", "inputs": ["m", "a", "x"]},
             {"id": "c1", "op": "Concat", "params": {"dim": 1}, "inputs": ["m", "x"]}]
    r = assert_matches_torch(graph(nodes))
    assert r.nodes["c"].shape == (12, 6, 5) and r.nodes["c1"].shape == (4, 12, 5)
    assert r.nodes["m2"].shape == (4, 6, 5)


def test_multiply_values_are_the_channel_gate():
    g = graph([{"id": "x", "op": "Input", "params": {"shape": [3, 4, 4]}},
               {"id": "g", "op": "GlobalMaxPool2d", "inputs": ["x"]},
               {"id": "m", "op": "Multiply", "inputs": ["x", "g"]}], outputs=["m"])
    x = torch.randn(2, 3, 4, 4)
    y = engine.build_module(g)(x)
    torch.testing.assert_close(y, x * x.amax(dim=(2, 3), keepdim=True))


def test_multiply_refuses_other_broadcasts():
    g = graph([{"id": "x", "op": "Input", "params": {"shape": [3, 4, 4]}},
               {"id": "p", "op": "MaxPool2d", "inputs": ["x"]},
               {"id": "m", "op": "Multiply", "inputs": ["x", "p"]}])
    r = engine.check(g)
    assert not r.ok and "3×2×2" in r.nodes["m"].error and "3×4×4" in r.nodes["m"].error


@pytest.mark.parametrize("op,factor", [("PixelShuffle", "upscale_factor"), ("PixelUnshuffle", "downscale_factor")])
def test_pixel_shuffles_accept_exactly_what_torch_accepts(op, factor):
    """Every small C×H×W and r: the engine's verdict (shape, or an error on the factor) is torch's."""
    layer = getattr(torch.nn, op)
    verdicts = set()
    for C in range(1, 10):
        for H, W in ((1, 1), (2, 3), (4, 6), (6, 9)):
            for r in (1, 2, 3):
                r_ = engine.check(chain((C, H, W), (op, {factor: r})))
                try:
                    want = tuple(layer(r)(torch.randn(1, C, H, W)).shape[1:])
                except RuntimeError:
                    want = None
                got = r_.nodes["n0"].shape if r_.ok else None
                assert got == want, f"{op}({r}) on {C}×{H}×{W}: engine {got or r_.errors[0]}, torch {want}"
                if want is None:
                    (e,) = r_.errors
                    assert e.field == f"params.{factor}" and f"Received: {factor}={r}" in e.message
                verdicts.add(want is None)
    assert verdicts == {True, False}  # both accepted and refused inputs were tried


def test_pixel_shuffle_messages_teach():
    r = engine.check(chain((6, 5, 5), ("PixelShuffle", {})))
    (e,) = r.errors
    assert "divisible by upscale_factor² = 4" in e.message and "input channels=6" in e.message
    assert e.fix == {"kind": "insert_before", "op": "Conv2d", "params": {"out_channels": 8, "kernel_size": 1}}
    r = engine.check(chain((3, 8, 7), ("PixelUnshuffle", {})))
    (e,) = r.errors
    assert "width must be divisible by downscale_factor 2" in e.message and "7 = 3·2 + 1" in e.message
    r = engine.check(chain((12,), ("PixelShuffle", {})))
    assert "expects an image tensor (C×H×W)" in r.errors[0].message
    assert r.nodes["n0"].macs == 0 and engine.check(chain((8, 3, 5), ("PixelShuffle", {}))).nodes["n0"].macs == 0


def test_detection_head_tells_the_grid_and_refuses_a_vector():
    r = engine.check(chain((32, 6, 6), ("DetectionHead", {"num_classes": 10})))
    assert r.nodes["n0"].shape == (15, 6, 6)  # 6×6 cells of objectness, 4 box numbers, 10 class scores
    assert r.nodes["n0"].macs == 32 * 15 * 36
    r = engine.check(chain((12,), ("DetectionHead", {})))
    assert "C×S×S feature map into S×S cells" in r.nodes["n0"].error
