"""Build assets/mnist_sample.npz: the real MNIST 10k test set, bundled so the app trains offline.

    python scripts/make_mnist_sample.py [--data-root ../shared/data/mnist] [--out assets/mnist_sample.npz]

The file holds `images` (uint8, 10000×28×28) and `labels` (uint8, 10000) in the original order; engine.data
splits it into train and validation with a fixed seed. Compressed it stays under 2 MB.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.data.builtin import read_idx  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    ap.add_argument("--out", default=str(ROOT / "assets" / "mnist_sample.npz"))
    args = ap.parse_args()
    root = Path(args.data_root)
    images = read_idx(root / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(root / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,), (images.shape, labels.shape)
    out = Path(args.out)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, images=images, labels=labels)
    tmp.replace(out)
    print(f"wrote {out}: {out.stat().st_size / 2**20:.2f} MiB, {len(labels)} digits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
