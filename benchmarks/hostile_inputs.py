"""Hostile inputs: time of the graph checks and memory of the dataset loader on the attacks of issue 13.

Graph files: load_graph and check of a 5,000-node chain whose ids repeat (every second-half input dangles, each
asking for a "did you mean") and of a 100,000-character dangling reference, against a baseline measured in the
same run: the same-sized valid chain. Before the hints were bounded the first took 13 s per call.

Uploads: peak Python memory (tracemalloc: numpy's and zlib's buffers included) while loading
- 20,000 1×1 PNGs for a 3×224×224 Input (the attack grew memory past 6 GiB): refused before allocating;
- a zip entry that declares 1,000 bytes and inflates to 256 MiB (it took +2 GiB): stopped after one chunk;
against the baseline of loading a valid 1,000-image dataset at 3×32×32 (whose decoded array is 3 MiB).
Prints figures and ratios; asserts nothing.

    python benchmarks/hostile_inputs.py [--nodes 5000] [--runs 3]
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

import engine  # noqa: E402
from engine.data import DataError  # noqa: E402
from engine.data.files import load_image_files  # noqa: E402
from tests.engine.data.test_hostile_uploads import patch_entry  # noqa: E402


def doc(nodes: list[dict], outputs: list[str]) -> dict:
    return {"format": "convas-graph", "version": 1, "nodes": nodes, "outputs": outputs}


def chain(n: int, repeat: bool) -> dict:
    ids = [f"node{k % (n // 2) if repeat else k}" for k in range(n)]
    nodes = [{"id": "x", "op": "Input", "params": {"shape": [4]}}]
    nodes += [{"id": ids[k], "op": "ReLU", "inputs": [f"node{k - 1}" if k else "x"]} for k in range(n)]
    return doc(nodes, ["node1"])


def median_s(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.process_time()
        try:
            fn()
        except engine.GraphError:
            pass
        times.append(time.process_time() - t)
    return statistics.median(times)


def peak_mib(fn) -> tuple[float, str]:
    tracemalloc.start()
    try:
        fn()
        outcome = "loaded"
    except DataError as e:
        outcome = f"refused: {str(e)[:90]}…"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 2**20, outcome


def png(size=(1, 1), colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    print(f"Graph files (CPU seconds, median of {args.runs})")
    valid, hostile = chain(args.nodes, repeat=False), chain(args.nodes, repeat=True)
    long_ref = chain(args.nodes, repeat=False)
    long_ref["nodes"].append({"id": "far", "op": "ReLU", "inputs": ["x" * 100_000]})
    for fn_name, fn in (("load_graph", engine.load_graph), ("check", engine.check)):
        base = median_s(lambda fn=fn: fn(valid), args.runs)
        print(f"  {fn_name:10s} valid {args.nodes:,}-node chain (baseline) {base:7.3f} s")
        for label, g in ((f"{args.nodes:,} nodes, repeated ids", hostile), ("100,000-char dangling ref", long_ref)):
            t = median_s(lambda fn=fn, g=g: fn(g), args.runs)
            print(f"  {fn_name:10s} {label:34s} {t:7.3f} s   ratio {t / base:5.2f}× baseline")

    print("\nUploads (peak Python memory, tracemalloc)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        good = tmp / "good.zip"
        with zipfile.ZipFile(good, "w") as zf:
            for i in range(1000):
                zf.writestr(f"{('cat', 'dog')[i % 2]}/{i}.png", png((32, 32), (i % 255, 30, 30)))
        base, outcome = peak_mib(lambda: load_image_files(good, input_shape=(3, 32, 32)))
        print(f"  1,000 images at 3×32×32 (baseline)                   {base:8.1f} MiB  {outcome}")
        tiny = tmp / "tiny.zip"
        one = png()
        with zipfile.ZipFile(tiny, "w") as zf:
            for i in range(20_000):
                zf.writestr(f"{('cat', 'dog')[i % 2]}/{i}.png", one)
        peak, outcome = peak_mib(lambda: load_image_files(tiny, input_shape=(3, 224, 224)))
        print(f"  20,000 1×1 PNGs at 3×224×224 ({tiny.stat().st_size / 2**20:.1f} MB zip)           "
              f"{peak:8.1f} MiB  ratio {peak / base:5.2f}×  {outcome}")
        bomb = tmp / "bomb.zip"
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("dog/0.png", png())
            with zf.open("cat/bomb.png", "w") as f:
                for _ in range(16):
                    f.write(bytes(2**24))
        patch_entry(bomb, "cat/bomb.png", size=1000)
        peak, outcome = peak_mib(lambda: load_image_files(bomb, input_shape=(3, 8, 8)))
        print(f"  entry declaring 1,000 bytes, inflating to 256 MiB ({bomb.stat().st_size / 2**20:.1f} MB zip) "
              f"{peak:8.1f} MiB  ratio {peak / base:5.2f}×  {outcome}")


if __name__ == "__main__":
    main()
