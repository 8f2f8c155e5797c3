"""Differential test: random graphs from fixed seeds, the engine's shapes and parameter counts against torch's.

VALID graphs: chains with side branches merged by Add / Multiply / Concat, every op in the catalog, odd sizes,
dilation, groups, ceil_mode, asymmetric kernels and strides. Each candidate layer is kept only if the engine says
the graph is still valid; torch (via oracle) then judges every node of the finished graph.
INVALID graphs: a valid graph with one mutation that is certainly wrong (bad params, wrong wiring, too-small
input, ...): the report must hold an error, `check` must never raise, and build_module must raise GraphError.
"""
from __future__ import annotations

import copy
import random
from collections import Counter

import pytest
import torch

import engine
from engine.catalog import list_ops
from tests.engine.catalog.test_ops import assert_matches_torch, graph

N_VALID, N_INVALID, CHUNK = 520, 240, 40
VOCAB = 12


def pair(rng: random.Random, lo: int, hi: int):
    """An int, or [h, w] with different values half the time (asymmetric kernels and strides)."""
    a = rng.randint(lo, hi)
    return a if rng.random() < 0.5 else [a, rng.randint(lo, hi)]


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def image_layer(rng: random.Random, shape: tuple) -> tuple[str, dict]:
    C, H, W = shape
    small = min(H, W)
    k = rng.choice(["conv"] * 6 + ["convT", "maxpool", "maxpool", "avgpool", "avgpool", "act", "act", "act", "gap",
                                   "gmp", "adaptive", "unpool", "upsample", "bn", "ln", "lrn", "pad", "drop",
                                   "flatten", "reshape", "toseq", "softmax", "identity", "chshuffle", "chunk", "ln2d",
                                   "scale", "droppath", "head"] + ["shuffle", "unshuffle"] * 2)
    if k == "conv":
        g = rng.choice(divisors(C)) if rng.random() < 0.4 else 1
        out = g * rng.randint(1, max(1, 8 // g))
        p = {"out_channels": out, "kernel_size": pair(rng, 1, min(5, small)), "stride": pair(rng, 1, 3),
             "padding": rng.choice([0, 1, 2, [1, 0], [0, 2], "same", "same", "valid", "full"]),
             "dilation": pair(rng, 1, 2) if rng.random() < 0.3 else 1, "groups": g, "bias": rng.random() < 0.8}
        return "Conv2d", p
    if k == "convT":
        s = rng.randint(1, 3)
        g = rng.choice(divisors(C)) if rng.random() < 0.3 else 1
        p = {"out_channels": g * rng.randint(1, max(1, 6 // g)), "kernel_size": pair(rng, 1, 4), "stride": s,
             "padding": rng.randint(0, 1), "output_padding": rng.randint(0, s - 1),
             "dilation": rng.choice([1, 1, 2]), "groups": g, "bias": rng.random() < 0.7}
        if H * s > 28 or W * s > 28:
            p["stride"], p["output_padding"] = 1, 0
        return "ConvTranspose2d", p
    if k in ("maxpool", "avgpool"):
        ks = pair(rng, 1, min(4, small))
        p = {"kernel_size": ks, "stride": rng.choice([None, 1, 2, 3, [2, 1]]),
             "padding": rng.choice([0, 0, 1, "same", "valid"]), "ceil_mode": rng.random() < 0.4}
        if k == "maxpool":
            p["dilation"] = rng.choice([1, 1, 1, 2])
            return "MaxPool2d", p
        p["count_include_pad"] = rng.random() < 0.5
        return "AvgPool2d", p
    if k == "act":
        return rng.choice([("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.1}), ("ELU", {}), ("GELU", {}),
                           ("Sigmoid", {}), ("Tanh", {}), ("ReLU6", {}), ("SiLU", {}), ("Hardswish", {}),
                           ("Hardsigmoid", {})])
    if k == "gap":
        return "GlobalAvgPool2d", {}
    if k == "gmp":
        return "GlobalMaxPool2d", {}
    if k == "adaptive":
        return rng.choice(["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"]), {"output_size": pair(rng, 1, 5)}
    if k == "unpool":
        s = pair(rng, 1, 3) if small <= 10 else 1
        return rng.choice(["BedOfNailsUnpool2d", "NearestUnpool2d"]), {"scale_factor": s}
    if k == "upsample":
        if rng.random() < 0.5:
            return "Upsample", {"size": pair(rng, 2, 20), "mode": rng.choice(["nearest", "bilinear"])}
        scale = rng.choice([0.5, 1.5, 1.7, 2.0]) if small <= 12 else 0.5
        return "Upsample", {"scale_factor": scale, "mode": rng.choice(["nearest", "bilinear"])}
    if k in ("shuffle", "unshuffle"):  # r = 2, 3 where they fit, else r = 2 anyway (refused, so another candidate)
        fits = [r for r in (2, 3) if (C % (r * r) == 0 and max(H, W) * r <= 28 if k == "shuffle"
                                      else H % r == 0 and W % r == 0)]
        r = 1 if rng.random() < 0.1 else rng.choice(fits or [2])  # r = 1 is the identity
        if k == "shuffle":
            return "PixelShuffle", {"upscale_factor": r}
        return "PixelUnshuffle", {"downscale_factor": r}
    if k == "head":
        return "DetectionHead", {"num_classes": rng.randint(1, 4)}
    if k == "bn":
        return "BatchNorm2d", {"affine": rng.random() < 0.8}
    if k == "ln":
        return "LayerNorm", {"normalized_dims": rng.randint(1, 3)}
    if k == "lrn":
        return "LocalResponseNorm", {"size": rng.randint(1, 5)}
    if k == "chshuffle":  # groups that divide the channels (others are refused, so another candidate is taken)
        return "ChannelShuffle", {"groups": rng.choice(divisors(C) + [C + 1])}
    if k == "chunk":
        n = rng.randint(1, 3)
        return "Chunk", {"chunks": n, "dim": rng.choice([0, 0, 1, 2]), "index": rng.randint(0, n - 1)}
    if k == "ln2d":
        return "LayerNorm2d", {"elementwise_affine": rng.random() < 0.8}
    if k == "scale":
        return "LayerScale", {"init_value": rng.choice([1e-6, 0.5, 1.0])}
    if k == "droppath":
        return "StochasticDepth", {"p": rng.choice([0.0, 0.2]), "mode": rng.choice(["row", "batch"])}
    if k == "pad":
        return "ZeroPad2d", {"padding": rng.choice([[1], [2], [1, 0, 2, 1], [0, 1, -1, 0]])}
    if k == "drop":
        return rng.choice(["Dropout", "Dropout2d"]), {"p": 0.3}
    if k == "flatten":
        return "Flatten", {}
    if k == "reshape":
        return "Reshape", {"shape": rng.choice([[C * H, W], [-1, C], [C, W, H], [C, -1, 1]])}
    if k == "toseq":
        return "ToSequence", {}
    if k == "softmax":
        return rng.choice(["Softmax", "LogSoftmax"]), {"dim": rng.choice([0, 1, 2, -1])}
    return "Identity", {}


def sequence_layer(rng: random.Random, shape: tuple) -> tuple[str, dict]:
    T, F = shape
    k = rng.choice(["rnn", "rnn", "rnn", "linear", "ln", "bn", "act", "softmax", "flatten", "drop", "lrn", "reshape"])
    if k == "rnn":
        layers = rng.randint(1, 2)
        return rng.choice(["LSTM", "GRU"]), {"hidden_size": rng.randint(1, 6), "num_layers": layers,
                                             "bidirectional": rng.random() < 0.5, "bias": rng.random() < 0.8,
                                             "dropout": 0.2 if layers > 1 else 0.0,
                                             "return_sequence": rng.random() < 0.6}
    if k == "linear":
        return "Linear", {"out_features": rng.randint(1, 8), "bias": rng.random() < 0.8}
    if k == "ln":
        return "LayerNorm", {"normalized_dims": rng.randint(1, 2)}
    if k == "bn":
        return "BatchNorm1d", {}
    if k == "act":
        return rng.choice([("Tanh", {}), ("GELU", {"approximate": "tanh"}), ("ReLU", {})])
    if k == "softmax":
        return rng.choice(["Softmax", "LogSoftmax"]), {"dim": rng.choice([0, 1, -1])}
    if k == "flatten":
        return "Flatten", {}
    if k == "drop":
        return "Dropout", {"p": 0.1}
    if k == "lrn":
        return "LocalResponseNorm", {"size": 2}
    return "Reshape", {"shape": rng.choice([[F, T], [1, T, F], [-1]])}


def vector_layer(rng: random.Random, shape: tuple) -> tuple[str, dict]:
    (F,) = shape
    k = rng.choice(["linear", "linear", "bn", "ln", "act", "softmax", "drop", "reshape", "rbm"])
    if k == "rbm":
        return "RBM", {"hidden": rng.randint(1, 9), "visible_units": rng.choice(["binary", "softmax"])}
    if k == "linear":
        return "Linear", {"out_features": rng.randint(1, 12), "bias": rng.random() < 0.8}
    if k == "bn":
        return "BatchNorm1d", {"momentum": 0.2}
    if k == "ln":
        return "LayerNorm", {}
    if k == "act":
        return rng.choice([("Sigmoid", {}), ("ELU", {"alpha": 0.5}), ("LeakyReLU", {})])
    if k == "softmax":
        return rng.choice(["Softmax", "LogSoftmax"]), {}
    if k == "drop":
        return "Dropout", {"p": 0.5}
    return "Reshape", {"shape": rng.choice([[F, 1, 1], [1, 1, F], [F, 1]])}


def next_layer(rng, shape):
    return {3: image_layer, 2: sequence_layer, 1: vector_layer}[len(shape)](rng, shape)


def valid_graph(seed: int) -> dict:
    """A random graph the engine accepts: grown one checked layer at a time."""
    rng = random.Random(seed)
    kind = rng.choices(["image", "sequence", "tokens"], weights=[8, 1, 1])[0]
    if kind == "image":
        shape = [rng.randint(1, 6), rng.randint(5, 21), rng.randint(5, 21)]
        nodes = [{"id": "x", "op": "Input", "params": {"shape": shape}}]
    elif kind == "sequence":
        nodes = [{"id": "x", "op": "Input", "params": {"shape": [rng.randint(2, 9), rng.randint(1, 7)]}}]
    else:
        nodes = [{"id": "x", "op": "Input", "params": {"shape": [rng.randint(2, 9)], "dtype": "int64"}},
                 {"id": "emb", "op": "Embedding", "params": {"num_embeddings": VOCAB, "embedding_dim": rng.randint(1, 6),
                                                            "padding_idx": rng.choice([None, 0])}, "inputs": ["x"]}]
    r = engine.check(graph(nodes))
    shapes = {nid: nr.shape for nid, nr in r.nodes.items()}
    for step in range(rng.randint(2, 9)):
        usable = [nid for nid, s in shapes.items() if nid != "x" or kind != "tokens"]
        src = usable[-1] if rng.random() < 0.7 else rng.choice(usable)
        candidates = _merge_candidates(rng, shapes) if rng.random() < 0.3 else []
        candidates += [(op, p, [src]) for op, p in (next_layer(rng, shapes[src]) for _ in range(6))]
        for op, params, inputs in candidates:
            nid = f"{op.lower()}{step}"
            trial = nodes + [{"id": nid, "op": op, "params": params, "inputs": inputs}]
            if op == "MaxPool2d" and rng.random() < 0.4:  # pool → ReLU → unpool with the pool's indices
                trial += [{"id": f"a{step}", "op": "ReLU", "inputs": [nid]},
                          {"id": f"unpool{step}", "op": "MaxUnpool2d", "params": {"pool": nid}, "inputs": [f"a{step}"]}]
            r = engine.check(graph(trial))
            if r.ok and all(max(s) <= 4096 for s in (nr.shape for nr in r.nodes.values())):
                nodes = trial
                shapes = {i: nr.shape for i, nr in r.nodes.items()}
                break
    return graph(nodes)


def _merge_candidates(rng, shapes: dict) -> list:
    """Add / Multiply of equal shapes (or a C×1×1 gate), Concat of equal sizes but the channels."""
    ids = [i for i in shapes if i != "x" or len(shapes[i]) != 1]
    out = []
    for a in rng.sample(ids, len(ids)):
        for b in ids:
            if a == b:
                continue
            sa, sb = shapes[a], shapes[b]
            if sa == sb:
                out.append((rng.choice(["Add", "Multiply"]), {}, [a, b] + ([a] if rng.random() < 0.2 else [])))
            if len(sa) == len(sb) == 3 and sb == (sa[0], 1, 1):
                out.append(("Multiply", {}, [a, b]))
            if len(sa) == len(sb) and sa[1:] == sb[1:] and sa != sb:
                out.append(("Concat", {}, [a, b]))
            if len(out) >= 2:
                return out
    return out


VALID = [valid_graph(seed) for seed in range(N_VALID)]


@pytest.mark.parametrize("start", range(0, N_VALID, CHUNK), ids=lambda s: f"seeds{s}-{s + CHUNK - 1}")
def test_random_valid_graphs_match_torch(start):
    torch.manual_seed(start)
    for seed in range(start, min(start + CHUNK, N_VALID)):
        g = VALID[seed]
        try:
            assert_matches_torch(g, batch=1, vocab=VOCAB)
        except Exception as e:
            raise AssertionError(f"seed {seed}: {e}\n{engine.to_python(g) if engine.check(g).ok else g}") from e


def test_valid_graphs_cover_the_catalog():
    counts = Counter(n["op"] for g in VALID for n in g["nodes"])
    missing = [op for op in list_ops() if counts[op] < 3]
    assert not missing, f"ops (almost) never generated: {missing}"
    merged = sum(1 for g in VALID if any(n["op"] in ("Add", "Concat", "Multiply") for n in g["nodes"]))
    assert merged >= 100, f"only {merged} graphs have branches"
    assert len(VALID) >= 500
    params = [n["params"] for g in VALID for n in g["nodes"] if n["op"] in ("Conv2d", "MaxPool2d", "AvgPool2d")]
    assert sum(1 for p in params if p.get("dilation", 1) != 1) >= 20
    assert sum(1 for p in params if p.get("groups", 1) != 1) >= 20
    assert sum(1 for p in params if p.get("ceil_mode")) >= 20
    assert sum(1 for p in params if isinstance(p.get("kernel_size"), list)) >= 20
    assert sum(1 for p in params if isinstance(p.get("stride"), list)) >= 10
    for op, factor in (("PixelShuffle", "upscale_factor"), ("PixelUnshuffle", "downscale_factor")):
        assert sum(1 for g in VALID for n in g["nodes"] if n["op"] == op and n["params"][factor] > 1) >= 10, op


# --- invalid graphs ---------------------------------------------------------------------------------------------

def _windowed(g: dict, r) -> list[dict]:
    return [n for n in g["nodes"] if n["op"] in ("Conv2d", "MaxPool2d", "AvgPool2d") and r.nodes[n["id"]].shape]


def mutate(rng: random.Random, g: dict) -> tuple[str, dict]:
    """One change that is certainly an error; returns (what was done, the broken graph)."""
    g = copy.deepcopy(g)
    r = engine.check(g)
    nodes = g["nodes"]
    layers = [n for n in nodes if n["op"] != "Input"]
    shapes = {nid: nr.shape for nid, nr in r.nodes.items()}
    kinds = ["dangling", "extra_input", "no_input", "unknown_op", "unknown_param", "bad_type", "out_of_range",
             "duplicate_id", "bad_output", "wrong_rank", "tiny_input", "reshape", "unpool_non_pool"]
    if _windowed(g, r):
        kinds += ["kernel_too_big"] * 3
    if any(n["op"] == "Conv2d" for n in nodes):
        kinds += ["groups"]
    if len(layers) >= 2:
        kinds += ["cycle"]
    if len({s for s in shapes.values()}) >= 2:
        kinds += ["mismatch"] * 2
    kind = rng.choice(kinds)
    victim = rng.choice(layers)
    if kind == "dangling":
        victim["inputs"] = ["nowhere"]
    elif kind == "extra_input":
        single = [n for n in layers if n["op"] not in ("Add", "Concat", "Multiply")] or layers
        victim = rng.choice(single)
        victim["inputs"] = victim["inputs"] + ["x"] if victim["op"] not in ("Add", "Concat", "Multiply") else []
    elif kind == "no_input":
        victim["inputs"] = []
    elif kind == "unknown_op":
        victim["op"] = rng.choice(["Conv3d", "conv2d", "Dense", ""])
    elif kind == "unknown_param":
        victim["params"] = {**victim.get("params", {}), rng.choice(["kernel", "filters", "units"]): 3}
    elif kind == "bad_type":
        victim = {"id": "bad", "op": rng.choice(["Conv2d", "MaxPool2d"]), "inputs": ["x"],
                  "params": {"kernel_size": rng.choice(["three", True, [1, 2, 3], 2.5])}}
        nodes.append(victim)
    elif kind == "out_of_range":
        op, params = rng.choice([("Conv2d", {"out_channels": 0}), ("Conv2d", {"stride": 0}),
                                 ("Dropout", {"p": 1.5}), ("Linear", {"out_features": -2}),
                                 ("LSTM", {"hidden_size": 0}), ("Softmax", {"dim": 7}),
                                 ("Upsample", {"scale_factor": None, "size": None}),
                                 ("ZeroPad2d", {"padding": [1, 2]}), ("Reshape", {"shape": [-1, -1]}),
                                 ("Reshape", {"shape": [0, 4]}), ("Conv2d", {"padding": "sometimes"}),
                                 ("Embedding", {"num_embeddings": 4, "padding_idx": 4})])
        nodes.append({"id": "bad", "op": op, "params": params, "inputs": ["x"]})
    elif kind == "duplicate_id":
        victim["id"] = rng.choice([n["id"] for n in nodes if n is not victim])
    elif kind == "bad_output":
        g["outputs"] = g["outputs"] + ["ghost"] if rng.random() < 0.5 else []
    elif kind == "wrong_rank":
        src = rng.choice(list(shapes))
        rank = len(shapes[src]) if shapes[src] else 3
        op = {3: rng.choice(["Linear", "LSTM", "BatchNorm1d", "Embedding"]),
              2: rng.choice(["Conv2d", "MaxPool2d", "BatchNorm2d", "GlobalAvgPool2d", "ToSequence", "Embedding"]),
              1: rng.choice(["Conv2d", "LSTM", "Dropout2d", "ZeroPad2d", "Upsample", "LocalResponseNorm",
                             "PixelShuffle", "PixelUnshuffle"])}[rank]
        nodes.append({"id": "wrong", "op": op, "params": {}, "inputs": [src]})
    elif kind == "tiny_input":
        k = rng.randint(3, 6)
        g = graph([{"id": "x", "op": "Input", "params": {"shape": [rng.randint(1, 3), k - 1, rng.randint(1, 9)]}},
                   {"id": "c", "op": rng.choice(["Conv2d", "MaxPool2d", "AvgPool2d"]),
                    "params": {"kernel_size": k, "padding": rng.choice([0, "valid"])}, "inputs": ["x"]}])
    elif kind == "reshape":
        src = rng.choice(list(shapes))
        n = 1
        for s in shapes[src]:
            n *= s
        nodes.append({"id": "rs", "op": "Reshape", "params": {"shape": [n + rng.randint(1, 5)]}, "inputs": [src]})
    elif kind == "unpool_non_pool":
        nodes.append({"id": "up", "op": "MaxUnpool2d", "params": {"pool": rng.choice(["x", "ghost"])},
                      "inputs": [layers[-1]["id"]]})
    elif kind == "kernel_too_big":
        victim = rng.choice(_windowed(g, r))
        _, H, W = r.nodes[victim["id"]].in_shapes[0]
        victim["params"] = {**victim["params"], "kernel_size": [H + 3, W + 3], "padding": 0, "dilation": 1}
        if victim["op"] != "Conv2d":  # ceil_mode would keep one overhanging window (torch does too)
            victim["params"].update(ceil_mode=False, stride=1)
    elif kind == "groups":
        victim = rng.choice([n for n in nodes if n["op"] == "Conv2d"])
        C = r.nodes[victim["id"]].in_shapes[0][0]
        victim["params"] = {**victim["params"], "groups": C + 1, "out_channels": C + 1}
    elif kind == "cycle":  # the first layer fed by a layer downstream of it (itself at least): certainly a loop
        first = layers[0]
        below = {first["id"]}
        for n in layers:  # generated graphs list nodes in dependency order
            if any(i in below for i in n["inputs"]):
                below.add(n["id"])
        first["inputs"] = [[n["id"] for n in layers if n["id"] in below][-1]]
    elif kind == "mismatch":
        a, b = rng.sample([i for i in shapes if shapes[i]], 2)
        while shapes[a] == shapes[b]:
            a, b = rng.sample([i for i in shapes if shapes[i]], 2)
        same_rest = len(shapes[a]) == len(shapes[b]) and shapes[a][1:] == shapes[b][1:]
        op = rng.choice(["Add", "Multiply"] if same_rest else ["Add", "Multiply", "Concat"])
        gate = len(shapes[a]) == len(shapes[b]) == 3 and (shapes[a] == (shapes[b][0], 1, 1)
                                                          or shapes[b] == (shapes[a][0], 1, 1))
        if op == "Multiply" and gate:
            op = "Add"
        nodes.append({"id": "merge", "op": op, "inputs": [a, b]})
    return kind, g


INVALID = [mutate(random.Random(10_000 + seed), VALID[seed % N_VALID]) for seed in range(N_INVALID)]


@pytest.mark.parametrize("start", range(0, N_INVALID, CHUNK), ids=lambda s: f"seeds{s}-{s + CHUNK - 1}")
def test_random_invalid_graphs_are_reported_never_raised(start):
    for seed in range(start, min(start + CHUNK, N_INVALID)):
        kind, g = INVALID[seed]
        try:
            r = engine.check(g)
        except Exception as e:  # pragma: no cover - the failure message is the point
            raise AssertionError(f"seed {seed} ({kind}): check raised {type(e).__name__}: {e}") from e
        assert not r.ok and r.errors, f"seed {seed} ({kind}): no error reported for {g}"
        assert all(i.message for i in r.errors)
        with pytest.raises(engine.GraphError):
            engine.build_module(g)


def test_invalid_graphs_cover_every_mutation():
    kinds = Counter(kind for kind, _ in INVALID)
    assert len(INVALID) >= 200 and len(kinds) >= 15, kinds


# --- accept/reject agreement: where the engine refuses a window op, torch refuses it too ------------------------

def _torch_window_layer(op: str, C: int, p: dict) -> torch.nn.Module:
    if op == "Conv2d":
        return torch.nn.Conv2d(C, p["out_channels"], p["kernel_size"], p["stride"], p["padding"], p["dilation"],
                               p["groups"])
    if op == "MaxPool2d":
        return torch.nn.MaxPool2d(p["kernel_size"], p["stride"], p["padding"], p["dilation"], ceil_mode=p["ceil_mode"])
    return torch.nn.AvgPool2d(p["kernel_size"], p["stride"], p["padding"], ceil_mode=p["ceil_mode"])


@pytest.mark.parametrize("start", range(0, 600, 200), ids=lambda s: f"seeds{s}-{s + 199}")
def test_engine_and_torch_agree_on_what_is_valid(start):
    """Small inputs near the edge: the engine's verdict (shape or error) must equal torch's, both ways."""
    agreed = Counter()
    for seed in range(start, start + 200):
        rng = random.Random(50_000 + seed)
        op = rng.choice(["Conv2d", "MaxPool2d", "AvgPool2d"])
        C, H, W = rng.choice([1, 2, 4]), rng.randint(1, 7), rng.randint(1, 7)
        k = [rng.randint(1, 5), rng.randint(1, 5)]
        p = {"kernel_size": k, "stride": [rng.randint(1, 3), rng.randint(1, 3)],
             "padding": [rng.randint(0, 3), rng.randint(0, 3)]}
        if op != "AvgPool2d":
            p["dilation"] = [rng.randint(1, 2), rng.randint(1, 2)]
        if op == "Conv2d":
            p.update(out_channels=2, groups=rng.choice([1, 2]))
        else:
            p["ceil_mode"] = rng.random() < 0.5
        r = engine.check(graph([{"id": "x", "op": "Input", "params": {"shape": [C, H, W]}},
                                {"id": "n", "op": op, "params": p, "inputs": ["x"]}]))
        try:
            with torch.no_grad():
                y = _torch_window_layer(op, C, p)(torch.randn(1, C, H, W))
            want = tuple(y.shape[1:]) if y.numel() else None
        except (RuntimeError, ValueError):
            want = None
        got = r.nodes["n"].shape if r.ok else None
        assert got == want, f"seed {seed}: {op} {p} on {C}×{H}×{W}: engine {got or r.errors[0]}, torch {want}"
        agreed[want is None] += 1
    assert agreed[True] >= 20 and agreed[False] >= 20, agreed  # both verdicts exercised
