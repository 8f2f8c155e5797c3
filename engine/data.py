"""Datasets as tensors: every source becomes uint8 images (N, C, H, W) and int64 labels, held on the device.

Sources (`load_data(source, ...)`):
- `mnist-sample`: the real MNIST 10k test set bundled in assets/ (offline out of the box), split train/val.
- `mnist`, `fashion-mnist`: the standard idx files from `root` (as in ../shared/data/mnist) or through
  torchvision into a cache directory; `cifar10`, `cifar100` through torchvision.
- a folder (one sub-folder per class) or a `.zip` of one (engine.data_files: checked, never extracted).
- `mnist-seg`: MNIST digits on a larger canvas, every pixel labelled (engine.data_seg).

Images stay uint8 until a batch is taken; `to_float` is the one preprocessing step the model sees (pixels in
[0, 1], no mean/std), so a page that feeds a trained model applies the same `to_float`.
"""
from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PATH = ROOT / "assets" / "mnist_sample.npz"
DIGITS = [str(i) for i in range(10)]
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
BUILTIN = ("mnist-sample", "mnist", "fashion-mnist", "cifar10", "cifar100", "mnist-seg")
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class DataError(ValueError):
    """Data that cannot be used; the message names the problem and where to put or fix things."""


@dataclass
class Data:
    """A train/validation split held as tensors. Segmentation labels are masks (N, H, W)."""

    name: str
    classes: list[str]
    x_train: torch.Tensor  # uint8 (N, C, H, W)
    y_train: torch.Tensor  # int64 (N,) class ids, or uint8 (N, H, W) masks
    x_val: torch.Tensor
    y_val: torch.Tensor
    task: str = "classification"  # or "segmentation"
    val_name: str = "validation"  # what the validation split is ("test set" for MNIST's 10k)
    augment: str = "none"  # what augment="auto" means for this data
    info: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to(self, device: torch.device | str) -> Data:
        move = lambda t: t.to(device, non_blocking=True)
        return Data(self.name, self.classes, move(self.x_train), move(self.y_train), move(self.x_val),
                    move(self.y_val), self.task, self.val_name, self.augment, dict(self.info))


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [0, 1]: the only preprocessing between the data and the model."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def default_cache() -> Path:
    return Path(os.environ.get("CONVAS_DATA", Path.home() / ".cache" / "convas" / "data"))


# ---- idx files (MNIST, Fashion-MNIST) ----------------------------------------------------------------------

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


def load_idx_dataset(source: str, root: str | os.PathLike | None) -> Data:
    """MNIST or Fashion-MNIST: idx files in root, else a torchvision download into the cache."""
    classes = DIGITS if source == "mnist" else FASHION
    where = Path(root) if root else default_cache()
    splits = {s: read_idx_split(where, s) for s in ("train", "test")}
    if any(v is None for v in splits.values()):
        splits = _torchvision_idx(source, where)
    (xt, yt), (xv, yv) = (_tensors(*splits[s]) for s in ("train", "test"))
    return Data(source, classes, xt, yt, xv, yv, val_name="test set", augment="none",
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


def load_cifar(source: str, root: str | os.PathLike | None) -> Data:
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
    return Data(source, classes, xt, yt, xv, yv, val_name="test set", augment="crop+flip",
                info={"root": str(where)})


def load_mnist_sample(val_fraction: float = 0.1, seed: int = 0) -> Data:
    """The bundled 10k real MNIST digits, split into train and validation by a seeded permutation."""
    if not SAMPLE_PATH.is_file():
        raise DataError(f"the bundled MNIST sample is missing: {SAMPLE_PATH}. Rebuild it with "
                        f"python scripts/make_mnist_sample.py --data-root DIR_WITH_MNIST_IDX_FILES.")
    with np.load(SAMPLE_PATH, allow_pickle=False) as z:
        x, y = _tensors(z["images"], z["labels"])
    return split_holdout("mnist-sample", DIGITS, x, y, val_fraction, seed, augment="none")


def split_holdout(name: str, classes: list[str], x: torch.Tensor, y: torch.Tensor, val_fraction: float,
                  seed: int, augment: str = "none", info: dict | None = None) -> Data:
    """Hold out val_fraction of (x, y) for validation, the same examples for the same seed."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be between 0 and 1 (exclusive). Received: val_fraction={val_fraction}.")
    n = len(x)
    n_val = max(1, int(round(n * val_fraction)))
    if n - n_val < 1:
        raise DataError(f"{name} has too few examples ({n}) to hold out {val_fraction:.0%} for validation.")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    tr, va = perm[n_val:], perm[:n_val]
    return Data(name, classes, x[tr], y[tr], x[va], y[va], val_name=f"held-out {val_fraction:.0%}",
                augment=augment, info=info or {})


def load_data(source: str, root: str | os.PathLike | None = None, *, input_shape: tuple[int, ...] | None = None,
              val_fraction: float = 0.1, seed: int = 0, limit: int | None = None) -> Data:
    """Any source -> Data. `input_shape` (the graph's Input) sizes folder/zip images and the mnist-seg canvas;
    `limit` keeps only the first N training examples (quick runs)."""
    if source == "mnist-sample":
        data = load_mnist_sample(val_fraction, seed)
    elif source in ("mnist", "fashion-mnist"):
        data = load_idx_dataset(source, root)
    elif source in ("cifar10", "cifar100"):
        data = load_cifar(source, root)
    elif source == "mnist-seg":
        from engine.data_seg import load_mnist_seg

        data = load_mnist_seg(root, input_shape=input_shape, val_fraction=val_fraction, seed=seed, limit=limit)
    else:
        from engine.data_files import load_image_files

        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"unknown data source '{source}': not one of {', '.join(BUILTIN)} and no such file or "
                            f"folder. Received: data={source!r}.")
        data = load_image_files(path, input_shape=input_shape, val_fraction=val_fraction, seed=seed)
    if limit is not None:
        if limit < 1:
            raise DataError(f"limit must be at least 1. Received: limit={limit}.")
        data.x_train, data.y_train = data.x_train[:limit], data.y_train[:limit]
    return data
