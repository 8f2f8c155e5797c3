"""load_data: one entry point for every data source. Datasets as tensors: every source becomes uint8 images (N, C, H, W) and int64 labels, held on the device.

Sources (`load_data(source, ...)`):
- `mnist-sample`: the real MNIST 10k test set bundled in assets/ (offline out of the box), split train/val/test.
- `mnist`, `fashion-mnist`: the standard idx files from `root` (as in ../shared/data/mnist) or through
  torchvision into a cache directory; `cifar10`, `cifar100` through torchvision.
- a folder (one sub-folder per class) or a `.zip` of one (engine.data.files: checked, never extracted); with
  YOLO .txt labels or a COCO .json, a detection set (engine.data.boxfiles).
- `mnist-seg`: MNIST digits on a larger canvas, every pixel labelled (engine.data.seg).
- `movielens-sample`, `movielens-small`, or a ratings.csv / zip / folder with one: one vector of ratings / 5 per
  user for the recommendation task (engine.data.ratings).
- text for language models (engine.data.text, returns TextData): `ptb-sample` (bundled), `ptb`, a `.txt` file or a
  `.zip` of train/valid/test text files when the task is language_model.
- `mnist-locate`, `mnist-detect`: digits scaled and placed on a canvas with their boxes (engine.data.detect).

Every image source returns three splits (engine.data.base): validation carved from the training examples by
`val_fraction` and `seed` (it picks the best weights), and a test split evaluated once at the end (the official one
where the source has it). Text keeps its own train/valid/test files.

Images stay uint8 until a batch is taken; `to_float` is the one preprocessing step the model sees (pixels in
[0, 1], no mean/std), so a page that feeds a trained model applies the same `to_float`.
"""
from __future__ import annotations

import os
from pathlib import Path

from engine.data.base import Data, DataError
from engine.data.boxfiles import has_box_labels, load_box_files
from engine.data.builtin import load_cifar, load_idx_dataset, load_mnist_sample
from engine.data.detect import load_mnist_boxes
from engine.data.files import load_image_files
from engine.data.ratings import SOURCES as RATINGS
from engine.data.ratings import is_ratings_source, load_ratings
from engine.data.seg import load_mnist_seg
from engine.data.text import TextData, load_text

BUILTIN = ("mnist-sample", "mnist", "fashion-mnist", "cifar10", "cifar100", "mnist-seg", "mnist-locate",
           "mnist-detect") + RATINGS
TEXT_BUILTIN = ("ptb-sample", "ptb")  # token streams for the language_model task


def load_data(source: str, root: str | os.PathLike | None = None, *, input_shape: tuple[int, ...] | None = None,
              val_fraction: float = 0.1, seed: int = 0, limit: int | None = None,
              task: str = "classification", max_vocab: int = 10_000) -> Data | TextData:
    """Any source -> Data (TextData for task language_model). `input_shape` (the graph's Input) sizes folder/zip
    images and the mnist-seg canvas; `limit` keeps only the first N training examples (tokens for text)."""
    if task == "language_model" or source in TEXT_BUILTIN:
        text = load_text(source, root, max_vocab)
        if limit is not None:
            text.train = text.train[:limit]
        return text
    if source == "mnist-sample":
        data = load_mnist_sample(val_fraction, seed)
    elif source in ("mnist", "fashion-mnist"):
        data = load_idx_dataset(source, root, val_fraction, seed)
    elif source in ("cifar10", "cifar100"):
        data = load_cifar(source, root, val_fraction, seed)
    elif source == "mnist-seg":
        data = load_mnist_seg(root, input_shape=input_shape, val_fraction=val_fraction, seed=seed, limit=limit)
    elif source in RATINGS or is_ratings_source(Path(source).expanduser()):
        data = load_ratings(source, root, input_shape=input_shape, val_fraction=val_fraction, seed=seed)
    elif source in ("mnist-locate", "mnist-detect"):
        data = load_mnist_boxes(source, root, input_shape=input_shape, val_fraction=val_fraction, seed=seed,
                                limit=limit)
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"unknown data source '{source}': not one of {', '.join(BUILTIN)} and no such file or "
                            f"folder. Received: data={source!r}.")
        if has_box_labels(path):  # images with YOLO .txt labels or a COCO .json: detection (or localisation)
            data = load_box_files(path, input_shape=input_shape, val_fraction=val_fraction, seed=seed,
                                  task="localisation" if task == "localisation" else "detection")
        else:
            data = load_image_files(path, input_shape=input_shape, val_fraction=val_fraction, seed=seed)
    if limit is not None:
        if limit < 1:
            raise DataError(f"limit must be at least 1. Received: limit={limit}.")
        data.x_train, data.y_train = data.x_train[:limit], data.y_train[:limit]
        if "splits" in data.info:
            data.info["splits"] = {**data.info["splits"], "train": len(data.x_train), "limit": limit}
    return data
