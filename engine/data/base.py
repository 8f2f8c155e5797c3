"""What every data source returns: `Data` (train, validation and test splits held as tensors), `DataError`, and the
few helpers all sources share (`to_float`, `split_holdout`, `carve_validation`, the download cache).

The splits are honest: validation is always carved from the training examples (seeded by the run's seed) and picks
the best weights; the test split is never seen until the end. A source with an official test split (MNIST, CIFAR)
keeps it; a source without one holds out TEST_FRACTION of its examples with a fixed seed, so every run of that source,
whatever its seed or val_fraction, is tested on the same examples."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch


class DataError(ValueError):
    """Data that cannot be used; the message names the problem and where to put or fix things."""


TEST_FRACTION = 0.1  # held out for testing when a source has no test split of its own
TEST_SEED = 0  # that test split does not move with the run's seed: runs of one source share it


@dataclass
class Data:
    """Train, validation and test splits held as tensors. Segmentation labels are masks (N, H, W). The
    validation split (x_val) picks the best weights; the test split (x_test) is evaluated once, at the end.
    `info["splits"]` records how they were made (sizes, seed, fraction, where each came from)."""

    name: str
    classes: list[str]
    x_train: torch.Tensor  # uint8 (N, C, H, W)
    y_train: torch.Tensor  # int64 (N,) class ids, or uint8 (N, H, W) masks
    x_val: torch.Tensor
    y_val: torch.Tensor
    task: str = "classification"  # or "segmentation"
    val_name: str = "validation"  # what the split in x_val is called in messages and results
    augment: str = "none"  # what augment="auto" means for this data
    info: dict = field(default_factory=dict)
    x_test: torch.Tensor | None = None  # None only for a source that has no test split (ratings)
    y_test: torch.Tensor | None = None
    test_name: str = "test"

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
        opt = lambda t: None if t is None else move(t)
        return Data(self.name, self.classes, move(self.x_train), move(self.y_train), move(self.x_val),
                    move(self.y_val), self.task, self.val_name, self.augment, dict(self.info), opt(self.x_test),
                    opt(self.y_test), self.test_name)

    def test_view(self) -> Data:
        """The same data with the test split in the held-out slot (x_val, y_val, val_name): what a Run evaluates
        once, at the end, on the weights validation chose. Itself when the source has no test split."""
        if self.x_test is None:
            return self
        return Data(self.name, self.classes, self.x_train, self.y_train, self.x_test, self.y_test, self.task,
                    self.test_name, self.augment, self.info, self.x_test, self.y_test, self.test_name)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [0, 1]: the only preprocessing between the data and the model."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def default_cache() -> Path:
    return Path(os.environ.get("CONVAS_DATA", Path.home() / ".cache" / "convas" / "data"))


def _carve(n: int, fraction: float, seed: int, name: str, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept, held) index tensors: a seeded `fraction` of range(n) held out (at least one), the rest kept."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"val_fraction must be between 0 and 1 (exclusive). Received: val_fraction={fraction}.")
    n_held = max(1, int(round(n * fraction)))
    if n - n_held < 1:
        raise DataError(f"{name} has too few examples ({n}) to hold out {fraction:.0%} for {what}. Add examples "
                        f"(at least {n_held + 1}) or use a smaller val_fraction.")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_held:], perm[:n_held]


def carve_validation(name: str, classes: list[str], x_train: torch.Tensor, y_train: torch.Tensor,
                     x_test: torch.Tensor, y_test: torch.Tensor, val_fraction: float, seed: int, *,
                     augment: str = "none", info: dict | None = None, test_from: str = "official test split") -> Data:
    """Data from a training set and a separate test set: val_fraction of the training examples (chosen by the
    seed) become the validation split; the test set is kept whole for the end."""
    tr, va = _carve(len(x_train), val_fraction, seed, name, "validation")
    splits = {"train": len(tr), "validation": len(va), "test": len(x_test), "seed": seed,
              "val_fraction": val_fraction, "validation_from": "training set", "test_from": test_from}
    return Data(name, classes, x_train[tr], y_train[tr], x_train[va], y_train[va], val_name="validation",
                augment=augment, info={**(info or {}), "splits": splits}, x_test=x_test, y_test=y_test,
                test_name="test set" if test_from == "official test split" else "test")


def split_holdout(name: str, classes: list[str], x: torch.Tensor, y: torch.Tensor, val_fraction: float,
                  seed: int, augment: str = "none", info: dict | None = None) -> Data:
    """A source without a test split: TEST_FRACTION of (x, y) held out for testing (the same examples for every
    run), then val_fraction of the rest for validation (the same examples for the same seed)."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be between 0 and 1 (exclusive). Received: val_fraction={val_fraction}.")
    if len(x) < 3:
        raise DataError(f"{name} has {len(x)} example(s); training, validation and test need at least 3. Add "
                        f"examples.")
    rest, te = _carve(len(x), TEST_FRACTION, TEST_SEED, name, "testing")
    data = carve_validation(name, classes, x[rest], y[rest], x[te], y[te], val_fraction, seed, augment=augment,
                            info=info, test_from=f"held-out {TEST_FRACTION:.0%} (fixed seed {TEST_SEED})")
    return data
