"""The built-in image sets: the bundled MNIST sample, MNIST / Fashion-MNIST idx files (from a folder, else through
torchvision into the cache) and CIFAR through torchvision. Offline, a download fails with a message that names the
files to put where, and the bundled sample that always works."""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import torch

from engine.data.base import Data, DataError, carve_validation, default_cache, split_holdout

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PATH = ROOT / "assets" / "mnist_sample.npz"
DIGITS = [str(i) for i in range(10)]
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An idx file (optionally .gz) as a numpy array; refuses files whose header does not match their size."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"cannot read {path}: {e}. Received: a file that is missing or not valid gzip.") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path.name} is not an idx file (bad magic number). Received: first bytes {raw[:4]!r}.")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    body = raw[4 + 4 * ndim:]
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(body) != expected:
        raise DataError(f"{path.name} is truncated or corrupt: its header promises {dims} values "
                        f"({expected} bytes) but it holds {len(body)} bytes.")
    return np.frombuffer(body, dtype=dtype).reshape(dims).copy()


def _find_idx(root: Path, stem: str) -> Path | None:
    """The idx file `stem` in root (plain or .gz), also in torchvision's <root>/<Name>/raw layout."""
    dirs = [root] + [root / sub / "raw" for sub in ("MNIST", "FashionMNIST")]
    for d in dirs:
        for name in (f"{stem}.gz", stem):
            if (d / name).is_file():
                return d / name
    return None


def read_idx_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(images uint8 N×28×28, labels) of the train or test split in root, or None when a file is missing."""
    paths = [_find_idx(root, stem) for stem in IDX_FILES[split]]
    if any(p is None for p in paths):
        return None
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"the idx files in {root} do not match: {images.shape} images but {labels.shape} labels.")
    return images, labels


def _offline_message(source: str, where: Path, files: str) -> str:
    return (f"{source} is not in {where} and could not be downloaded (no internet connection?). Put {files} in "
            f"{where} (or pass --data-root DIR with them), or train on 'mnist-sample', which is bundled.")


def _tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    return x, torch.from_numpy(np.asarray(labels).astype(np.int64))


def load_idx_dataset(source: str, root: str | os.PathLike | None, val_fraction: float = 0.1, seed: int = 0) -> Data:
    """MNIST or Fashion-MNIST: idx files in root, else a torchvision download into the cache. Validation is
    val_fraction of the training set (by the seed); the official 10k test set is kept for the end."""
    classes = DIGITS if source == "mnist" else FASHION
    where = Path(root) if root else default_cache()
    splits = {s: read_idx_split(where, s) for s in ("train", "test")}
    if any(v is None for v in splits.values()):
        splits = _torchvision_idx(source, where)
    (xt, yt), (xv, yv) = (_tensors(*splits[s]) for s in ("train", "test"))
    return carve_validation(source, classes, xt, yt, xv, yv, val_fraction, seed, augment="none",
                            info={"root": str(where)})


def _torchvision_idx(source: str, where: Path) -> dict:
    from torchvision import datasets

    cls = datasets.MNIST if source == "mnist" else datasets.FashionMNIST
    files = ", ".join(f"{s}.gz" for pair in IDX_FILES.values() for s in pair)
    out = {}
    try:
        for split in ("train", "test"):
            ds = cls(str(where), train=split == "train", download=True)
            out[split] = (ds.data.numpy(), ds.targets.numpy())
    except Exception as e:  # no network, a mirror down, a half-written file: all the same to the user
        raise DataError(_offline_message(source, where, files) + f" ({type(e).__name__}: {e})") from None
    return out


def load_cifar(source: str, root: str | os.PathLike | None, val_fraction: float = 0.1, seed: int = 0) -> Data:
    """CIFAR-10/100 through torchvision: validation carved from the 50k training images, the 10k test kept."""
    from torchvision import datasets

    where = Path(root) if root else default_cache()
    cls = datasets.CIFAR10 if source == "cifar10" else datasets.CIFAR100
    archive = "cifar-10-python.tar.gz" if source == "cifar10" else "cifar-100-python.tar.gz"
    out = {}
    try:
        for split in ("train", "test"):
            ds = cls(str(where), train=split == "train", download=True)
            out[split] = (ds.data.transpose(0, 3, 1, 2), np.asarray(ds.targets))  # NHWC -> NCHW
            classes = list(ds.classes)
    except Exception as e:
        raise DataError(_offline_message(source, where, f"{archive} (from https://www.cs.toronto.edu/~kriz/)")
                        + f" ({type(e).__name__}: {e})") from None
    (xt, yt), (xv, yv) = (_tensors(*out[s]) for s in ("train", "test"))
    return carve_validation(source, classes, xt, yt, xv, yv, val_fraction, seed, augment="crop+flip",
                            info={"root": str(where)})


def load_mnist_sample(val_fraction: float = 0.1, seed: int = 0) -> Data:
    """The bundled 10k real MNIST digits (MNIST's test set, but no test split of its own here): a fixed 10% held
    out for testing, then val_fraction of the rest for validation by the seed."""
    if not SAMPLE_PATH.is_file():
        raise DataError(f"the bundled MNIST sample is missing: {SAMPLE_PATH}. Rebuild it with "
                        f"python scripts/make_mnist_sample.py --data-root DIR_WITH_MNIST_IDX_FILES.")
    with np.load(SAMPLE_PATH, allow_pickle=False) as z:
        x, y = _tensors(z["images"], z["labels"])
    return split_holdout("mnist-sample", DIGITS, x, y, val_fraction, seed, augment="none")


def mnist_digit_splits(root: str | os.PathLike | None, val_fraction: float, seed: int) -> Data:
    """The MNIST digits the canvas sources (mnist-seg, mnist-locate, mnist-detect) draw on, split three ways: from
    the idx files in root (validation carved from train, the official test kept), else from the bundled sample."""
    train = read_idx_split(Path(root), "train") if root else None
    if train is None:
        return load_mnist_sample(val_fraction, seed)
    test = read_idx_split(Path(root), "test")
    xt, yt = _tensors(*train)
    if test is None:
        return split_holdout("mnist", DIGITS, xt, yt, val_fraction, seed)
    return carve_validation("mnist", DIGITS, xt, yt, *_tensors(*test), val_fraction, seed)
