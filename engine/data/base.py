"""What every data source returns: `Data` (a train/validation split held as tensors), `DataError`, and the few
helpers all sources share (`to_float`, `split_holdout`, the download cache)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch


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
        # to a GPU through pinned (page-locked) memory: non_blocking is only asynchronous from pinned memory, and the
        # caching host allocator keeps the staging buffer alive until the copy has run
        cuda = torch.device(device).type == "cuda"
        move = lambda t: (t.pin_memory() if cuda and not t.is_cuda else t).to(device, non_blocking=True)
        return Data(self.name, self.classes, move(self.x_train), move(self.y_train), move(self.x_val),
                    move(self.y_val), self.task, self.val_name, self.augment, dict(self.info))


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [0, 1]: the only preprocessing between the data and the model."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def default_cache() -> Path:
    return Path(os.environ.get("CONVAS_DATA", Path.home() / ".cache" / "convas" / "data"))


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
