"""Shape check of a 1,000-node graph: how long the live check takes on every canvas edit.

Builds a realistic graph (conv/bn/relu chains, residual Adds, dense-style Concats, a pooled head), times
`engine.check` (median of N runs after warm-up) against the target (≤ 20 ms), and, in the same run, a baseline:
a forward pass of the compiled module on torch's meta device (shapes only, no data), which is what "ask torch
for the shapes" would cost at best. Prints figures and ratios; asserts nothing about time.

    python benchmarks/shape_check.py [--nodes 1000] [--runs 30] [--profile]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import engine  # noqa: E402
from engine import wiring  # noqa: E402
from engine.catalog import has_op  # noqa: E402

TARGET_MS = 20.0


def build_graph(n_nodes: int = 1000, channels: int = 32, size: int = 64) -> dict:
    """A graph of about n_nodes nodes: residual blocks and concat blocks, a max-pool now and then, a head."""
    nodes: list[dict] = [{"id": "input", "op": "Input", "params": {"shape": [3, size, size]}}]
    bn = has_op("BatchNorm2d")  # the catalog grows in parallel; use batch norm once it is registered

    def add(op: str, inputs: list[str], **params) -> str:
        nid = f"{op.lower()}{len(nodes)}"
        nodes.append({"id": nid, "op": op, "params": params, "inputs": inputs,
                      "ui": {"x": 0.0, "y": 80.0 * len(nodes)}})
        return nid

    def conv_bn_relu(x: str, k: int = 3, relu: bool = True) -> str:
        x = add("Conv2d", [x], out_channels=channels, kernel_size=k, padding="same", bias=not bn)
        if bn:
            x = add("BatchNorm2d", [x])
        return add("ReLU", [x]) if relu else x

    x = conv_bn_relu("input")
    h = size
    block = 0
    while len(nodes) < n_nodes - 4:
        if block % 2 == 0:  # residual block: conv-bn-relu-conv-bn + skip -> relu
            y = conv_bn_relu(conv_bn_relu(x), relu=False)
            x = add("ReLU", [add("Add", [x, y])])
        else:  # concat block: two branches joined on channels, squeezed back by a 1×1 conv
            a = conv_bn_relu(x, k=1)
            b = conv_bn_relu(x, k=3)
            x = conv_bn_relu(add("Concat", [a, b, x]), k=1)
        block += 1
        if block % 40 == 0 and h > 4:
            x = add("MaxPool2d", [x], kernel_size=2)
            h //= 2
    out = add("Linear", [add("Flatten", [add("MaxPool2d", [x], kernel_size=h)])], out_features=10)
    return {"format": "convas-graph", "version": 1, "name": f"benchmark {len(nodes)} nodes", "nodes": nodes,
            "outputs": [out]}


def median_ms(fn, runs: int, warmup: int = 3, clock=time.perf_counter) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one check")
    args = ap.parse_args()

    data = build_graph(args.nodes)
    g = engine.load_graph(data)
    r = engine.check(g)
    assert r.ok, r.errors[:3]
    ops = sorted({n.op for n in g.nodes})
    print(f"graph: {len(g.nodes)} nodes ({', '.join(ops)}), {r.total_params:,} parameters")

    check_graph = median_ms(lambda: engine.check(g), args.runs)
    # CPU time of this process: on a shared machine, wall time also counts the time other processes had the core
    check_cpu = median_ms(lambda: engine.check(g), args.runs, clock=time.process_time)
    check_dict = median_ms(lambda: engine.check(data), args.runs)

    def cold():  # first sight of every (op, params) pair: nothing memoised
        wiring._NORMALISED.clear()
        engine.check(g)

    check_cold = median_ms(cold, args.runs)
    rev = g.model_copy(update={"nodes": g.nodes[::-1]})  # dependency order must be computed, not read off the file
    check_rev = median_ms(lambda: engine.check(rev), args.runs)
    load = median_ms(lambda: engine.load_graph(data), args.runs)

    with torch.device("meta"):
        model = engine.build_module(g).eval()
    x = torch.empty(1, *r.nodes["input"].shape, device="meta")
    with torch.no_grad():
        meta = median_ms(lambda: model(x), max(5, args.runs // 3))

    def build_meta():
        with torch.device("meta"):
            engine.build_module(g)

    build = median_ms(build_meta, 3, warmup=1)

    print(f"engine.check(Graph)      median {check_graph:7.2f} ms   target ≤ {TARGET_MS:.0f} ms   "
          f"ratio {check_graph / TARGET_MS:.2f}× target")
    print(f"engine.check(Graph), CPU median {check_cpu:7.2f} ms   ratio {check_cpu / TARGET_MS:.2f}× target "
          f"(process time: what the check costs without other processes' share of the core)")
    print(f"engine.check(dict)       median {check_dict:7.2f} ms   (parse + check, what the canvas sends)")
    print(f"engine.check, cold cache median {check_cold:7.2f} ms   (no (op, params) normalisation memoised)")
    print(f"engine.check, reversed   median {check_rev:7.2f} ms   (file in reverse dependency order)")
    print(f"engine.load_graph(dict)  median {load:7.2f} ms")
    print(f"baseline: meta forward   median {meta:7.2f} ms   check / meta = {check_graph / meta:.2f}")
    print(f"baseline: build_module on meta (codegen + exec + init) median {build:7.2f} ms")
    print("meets target" if check_graph <= TARGET_MS else "MISSES target")

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for _ in range(10):
            engine.check(g)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
