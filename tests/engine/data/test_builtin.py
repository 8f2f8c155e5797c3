"""engine.data: idx files, the bundled sample, the torchvision sources offline, limits and splits."""
from __future__ import annotations

import gzip
import hashlib
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data import DataError, load_data, to_float
from engine.data.builtin import SAMPLE_PATH, read_idx


def write_idx(path: Path, a: np.ndarray, gz: bool = True) -> Path:
    code = {np.uint8: 0x08, np.int32: 0x0C}[a.dtype.type]
    raw = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(a.dtype.newbyteorder(">")).tobytes()
    (gzip.open if gz else open)(path, "wb").write(raw)
    return path


def test_read_idx_round_trip_plain_and_gz(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.gz", a)), a)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a", a, gz=False)), a)
    b = np.array([-5, 70000], dtype=np.int32)
    assert np.array_equal(read_idx(write_idx(tmp_path / "b", b, gz=False)), b)


def test_read_idx_refuses_bad_magic_and_truncated_files(tmp_path):
    (tmp_path / "junk").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DataError, match="not an idx file"):
        read_idx(tmp_path / "junk")
    a = np.zeros((3, 2, 2), dtype=np.uint8)
    write_idx(tmp_path / "t", a, gz=False)
    raw = (tmp_path / "t").read_bytes()
    (tmp_path / "t").write_bytes(raw[:-3])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(tmp_path / "t")


def test_mnist_idx_matches_torchvision_reader(mnist_root, tmp_path):
    from torchvision.datasets.mnist import read_image_file, read_label_file

    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / stem).write_bytes(gzip.open(mnist_root / f"{stem}.gz").read())
    ours = read_idx(mnist_root / "t10k-images-idx3-ubyte.gz")
    assert torch.equal(torch.from_numpy(ours), read_image_file(str(tmp_path / "t10k-images-idx3-ubyte")))
    labels = read_idx(mnist_root / "t10k-labels-idx1-ubyte.gz")
    assert torch.equal(torch.from_numpy(labels.astype(np.int64)), read_label_file(str(tmp_path / "t10k-labels-idx1-ubyte")))


def test_mnist_from_data_root_is_60k_train_and_10k_test(mnist_root):
    d = load_data("mnist", mnist_root)  # validation: 10% of the 60k training digits; the official 10k test kept
    assert d.x_train.shape == (54000, 1, 28, 28) and d.x_val.shape == (6000, 1, 28, 28)
    assert d.x_test.shape == (10000, 1, 28, 28) and torch.equal(d.x_test[:, 0], torch.from_numpy(
        read_idx(mnist_root / "t10k-images-idx3-ubyte.gz")))
    assert d.x_train.dtype == torch.uint8 and d.y_train.dtype == torch.int64
    assert d.val_name == "validation" and d.test_name == "test set" and d.classes == [str(i) for i in range(10)]
    assert d.input_shape == (1, 28, 28)
    assert torch.bincount(torch.cat([d.y_train, d.y_val])).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918,
                                                                         6265, 5851, 5949]
    assert d.info["splits"] == {"train": 54000, "validation": 6000, "test": 10000, "seed": 0, "val_fraction": 0.1,
                                "validation_from": "training set", "test_from": "official test split"}


def test_mnist_sample_is_the_real_test_set_split_train_val_test(mnist_root):
    assert SAMPLE_PATH.stat().st_size <= 2 * 2**20
    d = load_data("mnist-sample", val_fraction=0.1, seed=0)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (8100, 900, 1000)
    assert d.val_name == "validation" and d.test_name == "test"
    test = read_idx(mnist_root / "t10k-images-idx3-ubyte.gz")
    digest = lambda a: sorted(hashlib.sha1(x.tobytes()).hexdigest() for x in a)
    every = torch.cat([d.x_train, d.x_val, d.x_test])[:, 0].numpy()
    assert digest(every) == digest(test)  # exactly the 10k real digits, each once
    again = load_data("mnist-sample", val_fraction=0.1, seed=0)
    other = load_data("mnist-sample", val_fraction=0.25, seed=1)
    assert torch.equal(again.y_val, d.y_val) and not torch.equal(other.y_val, d.y_val)
    assert torch.equal(other.x_test, d.x_test)  # the test digits do not move with the seed or the fraction
    assert len(other.x_val) == 2250


def test_limit_keeps_the_first_training_examples_only():
    full, part = load_data("mnist-sample"), load_data("mnist-sample", limit=100)
    assert torch.equal(part.x_train, full.x_train[:100]) and torch.equal(part.x_val, full.x_val)
    assert torch.equal(part.x_test, full.x_test)
    with pytest.raises(DataError, match="limit"):
        load_data("mnist-sample", limit=0)


def test_to_float_scales_pixels_to_unit_range():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert torch.allclose(to_float(x), torch.tensor([0.0, 0.2, 1.0]))


def test_unknown_source_is_refused_with_the_choices(tmp_path):
    with pytest.raises(DataError, match="unknown data source 'mnsit'.*mnist-sample"):
        load_data("mnsit")


@pytest.mark.parametrize("source,module,needed", [
    ("cifar10", "cifar", "cifar-10-python.tar.gz"),
    ("cifar100", "cifar", "cifar-100-python.tar.gz"),
    ("mnist", "mnist", "train-images-idx3-ubyte.gz"),
    ("fashion-mnist", "mnist", "t10k-labels-idx1-ubyte.gz"),
])
def test_offline_download_names_where_to_put_the_files(tmp_path, monkeypatch, source, module, needed):
    import importlib

    mod = importlib.import_module(f"torchvision.datasets.{module}")

    def offline(*a, **k):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(mod, "download_and_extract_archive", offline)
    if hasattr(mod, "download_url"):
        monkeypatch.setattr(mod, "download_url", offline)
    where = tmp_path / "cache"
    with pytest.raises(DataError) as e:
        load_data(source, where)
    msg = str(e.value)
    assert f"{source} is not in {where}" in msg and needed in msg and "mnist-sample" in msg and "--data-root" in msg
