"""Image folders and zips: read into tensors at the graph's size; every unsafe or wrong zip refused, nothing
extracted."""
from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data import DataError, load_data
from engine.data.files import load_image_files

COLOURS = {"cat": (200, 30, 30), "dog": (20, 40, 220)}


def png(colour, size=(20, 12)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def make_folder(root: Path, n: int = 6) -> Path:
    for cls, colour in COLOURS.items():
        (root / cls).mkdir(parents=True)
        for i in range(n):
            (root / cls / f"{i}.png").write_bytes(png(colour))
    return root


def make_zip(path: Path, entries: dict[str, bytes], prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(prefix + name, data)
    return path


def bomb() -> bytes:
    """48 M pixels that compress to a few kB: refused from the header, never decoded."""
    buf = io.BytesIO()
    Image.new("1", (8000, 6000)).save(buf, format="PNG")
    return buf.getvalue()


def good_entries(n: int = 6) -> dict[str, bytes]:
    return {f"{cls}/{i}.png": png(colour) for cls, colour in COLOURS.items() for i in range(n)}


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_folder_loads_classes_resized_to_the_input(tmp_path):
    d = load_image_files(make_folder(tmp_path / "ds"), input_shape=(3, 8, 10), val_fraction=0.25)
    assert d.classes == ["cat", "dog"] and d.task == "classification"
    # 12 images: 1 held out for testing (10%), then 3 of the other 11 (25%) for validation
    assert d.x_train.shape == (8, 3, 8, 10) and d.x_val.shape == (3, 3, 8, 10) and d.x_test.shape == (1, 3, 8, 10)
    assert d.x_train.dtype == torch.uint8
    x, y = torch.cat([d.x_train, d.x_val, d.x_test]), torch.cat([d.y_train, d.y_val, d.y_test])
    for k, cls in enumerate(d.classes):  # a solid colour stays that colour after the resize
        assert torch.equal(x[y == k][:, :, 3, 4], torch.tensor(COLOURS[cls], dtype=torch.uint8).expand(6, 3))
    grey = load_image_files(tmp_path / "ds", input_shape=(1, 4, 4))
    expected = round(0.299 * 200 + 0.587 * 30 + 0.114 * 30)  # PIL's L conversion of the cat colour
    assert grey.x_train.shape[1:] == (1, 4, 4)
    assert abs(int(torch.cat([grey.x_train, grey.x_val, grey.x_test])[torch.cat([grey.y_train, grey.y_val,
                                                                              grey.y_test]) == 0].float().mean())
               - expected) <= 1


def test_zip_of_a_folder_reads_like_the_folder(tmp_path):
    folder = load_image_files(make_folder(tmp_path / "ds"), input_shape=(3, 8, 8))
    zipped = load_image_files(make_zip(tmp_path / "ds.zip", good_entries(), prefix="ds/"), input_shape=(3, 8, 8))
    assert zipped.classes == folder.classes
    assert torch.equal(zipped.x_train, folder.x_train) and torch.equal(zipped.y_val, folder.y_val)
    flat = load_data(str(make_zip(tmp_path / "flat.zip", good_entries())), input_shape=(3, 8, 8))
    assert torch.equal(flat.x_val, folder.x_val) and torch.equal(flat.x_test, folder.x_test)


def test_hidden_files_and_macos_metadata_are_skipped(tmp_path):
    entries = {**good_entries(), "__MACOSX/cat/._0.png": b"junk", "cat/.DS_Store": b"junk"}
    d = load_image_files(make_zip(tmp_path / "mac.zip", entries), input_shape=(3, 8, 8))
    assert len(d.x_train) + len(d.x_val) + len(d.x_test) == 12


def symlink_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in good_entries().items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo("cat/link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize("case,match", [
    ("dotdot", "'cat/../../evil.png' climbs out of the archive"),
    ("absolute", "'/tmp/evil.png' is an absolute path"),
    ("symlink", "'cat/link.png' is a symbolic link"),
    ("not_image", "'dog/notes.txt' is not an image"),
    ("too_big", "more than the limit of 0.0 MB"),
    ("corrupt", "'bad.zip:cat/broken.png' is not a readable image"),
    ("loose", "'readme.png' is not inside a class folder"),
    ("one_class", "1 class folder"),
    ("empty", "holds no images"),
    ("bomb", "'bad.zip:dog/huge.png' is 8000×6000 pixels, over the limit"),
])
def test_unsafe_or_wrong_zips_are_refused_and_nothing_is_extracted(tmp_path, case, match):
    work = tmp_path / "work"
    work.mkdir()
    path = work / "bad.zip"
    extra = {"dotdot": {"cat/../../evil.png": png((1, 2, 3))}, "absolute": {"/tmp/evil.png": png((1, 2, 3))},
             "not_image": {"dog/notes.txt": b"hello"}, "corrupt": {"cat/broken.png": b"\x89PNG not really"},
             "loose": {"readme.png": png((1, 2, 3))}, "bomb": {"dog/huge.png": bomb()}}
    if case == "symlink":
        symlink_zip(path)
    elif case == "one_class":
        make_zip(path, {k: v for k, v in good_entries().items() if k.startswith("cat/")})
    elif case == "empty":
        make_zip(path, {})
    else:
        make_zip(path, {**good_entries(), **extra.get(case, {})})
    before = snapshot(tmp_path)
    cwd = os.getcwd()
    os.chdir(work)  # an extraction relative to the working directory would show up here
    try:
        with pytest.raises(DataError, match=match):
            load_image_files(path, input_shape=(3, 8, 8), max_bytes=10 if case == "too_big" else 2**30)
    finally:
        os.chdir(cwd)
    assert snapshot(tmp_path) == before
    assert not Path("/tmp/evil.png").exists()


def test_folder_with_a_non_image_or_an_escaping_symlink_is_refused(tmp_path):
    ds = make_folder(tmp_path / "ds")
    (ds / "dog" / "labels.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="'dog/labels.csv' is not an image"):
        load_image_files(ds, input_shape=(3, 8, 8))
    (ds / "dog" / "labels.csv").unlink()
    outside = tmp_path / "secret.png"
    outside.write_bytes(png((9, 9, 9)))
    (ds / "cat" / "link.png").symlink_to(outside)
    with pytest.raises(DataError, match="symbolic link to a file outside the folder"):
        load_image_files(ds, input_shape=(3, 8, 8))


def test_folder_input_must_be_grey_or_rgb(tmp_path):
    with pytest.raises(DataError, match=r"Set the Input shape to \[1, H, W\] or \[3, H, W\]"):
        load_image_files(make_folder(tmp_path / "ds"), input_shape=(2, 8, 8))


def test_a_zip_dataset_trains_end_to_end(tmp_path):
    from engine.train.trainer import TrainConfig, train

    graph = {"format": "convas-graph", "version": 1, "name": "tiny", "outputs": ["fc"],
             "task": {"kind": "classification", "num_classes": 2},
             "nodes": [{"id": "x", "op": "Input", "params": {"shape": [3, 8, 8]}},
                       {"id": "conv", "op": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3}, "inputs": ["x"]},
                       {"id": "flat", "op": "Flatten", "inputs": ["conv"]},
                       {"id": "fc", "op": "Linear", "params": {"out_features": 2}, "inputs": ["flat"]}]}
    data = make_zip(tmp_path / "ds.zip", good_entries(10))
    run = train(graph, TrainConfig(data=str(data), epochs=3, batch_size=4, lr=0.01, val_fraction=0.2), tmp_path / "r")
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished", status["message"]
    res = json.loads((run / "results.json").read_text())
    assert res["classes"] == ["cat", "dog"] and res["accuracy"] == 1.0  # two solid colours: trivially separable
    # 20 images: 2 held out for testing, then 4 of the other 18 (20%) for validation; the results are the test's
    assert np.array(res["confusion"]).sum() == 2 and res["split"] == "test" and res["selected_on"] == "validation"
