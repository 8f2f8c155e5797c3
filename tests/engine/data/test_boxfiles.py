"""Detection data a user uploads: YOLO .txt labels or one COCO JSON, in a folder or a zip, checked file by file."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from engine.data import DataError, load_data


def png(w=40, h=20) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def write(root, files: dict):
    for name, content in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def yolo_set(**extra):
    files = {"images/a.png": png(), "labels/a.txt": "0 0.5 0.5 0.5 0.5\n1 0.25 0.25 0.1 0.2\n",
             "images/b.png": png(), "labels/b.txt": "", "c.png": png(), "c.txt": "1 0.9 0.5 0.2 1.0\n",
             "classes.txt": "cat\ndog\n"}
    files.update(extra)
    return files


def test_yolo_folder_loads_boxes_scaled_to_the_input(tmp_path):
    d = load_data(str(write(tmp_path / "ds", yolo_set())), input_shape=(3, 40, 80), val_fraction=0.34)
    assert d.task == "detection" and d.classes == ["cat", "dog"] and d.input_shape == (3, 40, 80)
    y = np.concatenate([d.y_train.numpy(), d.y_val.numpy(), d.y_test.numpy()])
    rows = sorted(map(tuple, y.reshape(-1, 5)[y.reshape(-1, 5)[:, 0] >= 0].tolist()))
    # fractions of the image -> pixels of the 80×40 input: cat centred 40×20, dog (20, 10) 8×8, dog at the right edge
    assert rows == [(0, 20, 10, 60, 30), (1, 16, 6, 24, 14), (1, 64, 0, 80, 40)]
    assert y.shape[1] == 2 and (y[:, :, 0] >= 0).sum(1).tolist().count(0) == 1  # b.png: no objects


def test_yolo_zip_is_the_same_as_the_folder(tmp_path):
    z = tmp_path / "ds.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name, content in yolo_set().items():
            zf.writestr(f"set/{name}", content)
    a = load_data(str(z), input_shape=(1, 20, 40))
    b = load_data(str(write(tmp_path / "f", yolo_set())), input_shape=(1, 20, 40))
    assert np.array_equal(np.sort(a.y_train.numpy(), axis=None), np.sort(b.y_train.numpy(), axis=None))


@pytest.mark.parametrize("extra, message", [
    ({"labels/a.txt": "0 0.5 0.5 0.5\n"}, r"'labels/a.txt' line 1: expected 'class cx cy w h'.*'0 0.5 0.5 0.5'"),
    ({"labels/a.txt": "0 0.9 0.5 0.4 0.4\n"}, r"'labels/a.txt' line 1: the box is outside the image.*cx=0.9"),
    ({"labels/a.txt": "\n0 0.5 0.5 0 0.4\n"}, r"'labels/a.txt' line 2: the box is outside the image or has no area"),
    ({"labels/a.txt": "2 0.5 0.5 0.2 0.2\n"}, r"'labels/a.txt' line 1: unknown class id 2; classes.txt lists 2"),
    ({"images/d.png": png()}, r"'images/d.png' has no label file \(expected 'labels/d.txt'\)"),
    ({"labels/e.txt": "0 0.5 0.5 0.1 0.1\n"}, r"'labels/e.txt' is a label file without an image"),
    ({"notes.csv": "x"}, r"'notes.csv' is not an image"),
])
def test_yolo_problems_name_the_file(tmp_path, extra, message):
    with pytest.raises(DataError, match=message):
        load_data(str(write(tmp_path / "ds", yolo_set(**extra))), input_shape=(1, 32, 32))


def test_zip_slip_is_refused(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.png", png())
        zf.writestr("a.txt", "0 0.5 0.5 0.1 0.1")
        zf.writestr("../../escape.txt", "0 0.5 0.5 0.1 0.1")
    with pytest.raises(DataError, match=r"'../../escape.txt' climbs out of the archive"):
        load_data(str(z), input_shape=(1, 32, 32))


def coco_doc(**over):
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 20},
                      {"id": 2, "file_name": "img/b.png", "width": 40, "height": 20},
                      {"id": 4, "file_name": "c.png", "width": 40, "height": 20}],  # no boxes: background only
           "categories": [{"id": 7, "name": "car"}, {"id": 3, "name": "bus"}],
           "annotations": [{"image_id": 1, "category_id": 7, "bbox": [0, 0, 20, 10]},
                           {"image_id": 2, "category_id": 3, "bbox": [10, 5, 30, 15]}]}
    doc.update(over)
    return doc


def one_box_coco_doc() -> dict:
    """coco_doc with its background image given a box: every image holds exactly one (a localisation set)."""
    doc = coco_doc()
    doc["annotations"].append({"image_id": 4, "category_id": 7, "bbox": [20, 10, 10, 10]})
    return doc


def coco_set(tmp_path, doc):
    return str(write(tmp_path / "coco", {"a.png": png(), "img/b.png": png(), "c.png": png(),
                                         "ann.json": json.dumps(doc)}))


def test_coco_loads_categories_in_id_order_and_pixel_boxes(tmp_path):
    d = load_data(coco_set(tmp_path, coco_doc()), input_shape=(1, 20, 40), val_fraction=0.5)
    assert d.classes == ["bus", "car"] and d.task == "detection"
    y = np.concatenate([d.y_train.numpy(), d.y_val.numpy(), d.y_test.numpy()]).reshape(-1, 5)
    assert sorted(map(tuple, y[y[:, 0] >= 0].tolist())) == [(0, 10, 5, 40, 20), (1, 0, 0, 20, 10)]


@pytest.mark.parametrize("change, message", [
    (lambda d: d["annotations"].append({"image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]}),
     r"'ann.json': annotation 2 has unknown category_id 9; the categories are 3, 7"),
    (lambda d: d["annotations"].append({"image_id": 2, "category_id": 3, "bbox": [30, 5, 20, 5]}),
     r"'ann.json': annotation 2 \(image 'img/b.png'\) has a box outside the 40×20 image"),
    (lambda d: d["images"].pop(1), r"'img/b.png' has no entry in 'ann.json' \(an image without labels\)"),
    (lambda d: d["images"].append({"id": 5, "file_name": "gone.png"}), r"image id 5 names 'gone.png', which is not"),
    (lambda d: d.pop("categories"), r"'ann.json' is not a COCO annotation file"),
])
def test_coco_problems_name_the_file(tmp_path, change, message):
    doc = coco_doc()
    change(doc)
    with pytest.raises(DataError, match=message):
        load_data(coco_set(tmp_path, doc), input_shape=(1, 20, 40))


def test_class_folders_still_load_as_classification(tmp_path):
    d = load_data(str(write(tmp_path / "cls", {"a/1.png": png(), "a/2.png": png(), "b/3.png": png()})),
                  input_shape=(1, 8, 8), val_fraction=0.34)
    assert d.task == "classification" and d.classes == ["a", "b"]


def one_box_set(**extra):
    files = {"images/a.png": png(), "labels/a.txt": "0 0.5 0.5 0.5 0.5\n", "images/b.png": png(),
             "labels/b.txt": "1 0.25 0.25 0.1 0.2\n", "c.png": png(), "c.txt": "1 0.9 0.5 0.2 1.0\n",
             "classes.txt": "cat\ndog\n"}
    files.update(extra)
    return files


def test_a_localisation_graph_gets_one_box_per_image(tmp_path):
    d = load_data(str(write(tmp_path / "ds", one_box_set())), input_shape=(3, 40, 80), val_fraction=0.34,
                  task="localisation")
    assert d.task == "localisation" and d.y_train.shape[1:] == (5,) and d.y_val.shape[1:] == (5,)
    rows = sorted(map(tuple, np.concatenate([d.y_train.numpy(), d.y_val.numpy(), d.y_test.numpy()]).tolist()))
    assert rows == [(0, 20, 10, 60, 30), (1, 16, 6, 24, 14), (1, 64, 0, 80, 40)]  # as the detection set's
    coco = load_data(coco_set(tmp_path, one_box_coco_doc()), input_shape=(1, 20, 40), val_fraction=0.5,
                     task="localisation")
    assert coco.task == "localisation" and sorted(map(tuple, np.concatenate(
        [coco.y_train.numpy(), coco.y_val.numpy(), coco.y_test.numpy()]).tolist())) == [
        (0, 10, 5, 40, 20), (1, 0, 0, 20, 10), (1, 20, 10, 30, 20)]


@pytest.mark.parametrize("extra, message", [
    ({"labels/b.txt": ""}, r"'images/b.png' has 0 boxes in 'labels/b.txt' but a localisation graph needs exactly "
                           r"one object per image.*or set the graph's task to detection"),
    ({"c.txt": "1 0.9 0.5 0.2 1.0\n0 0.2 0.2 0.1 0.1\n"}, r"'c.png' has 2 boxes in 'c.txt'"),
])
def test_localisation_refuses_images_without_exactly_one_box(tmp_path, extra, message):
    with pytest.raises(DataError, match=message):
        load_data(str(write(tmp_path / "ds", one_box_set(**extra))), input_shape=(1, 32, 32), task="localisation")
    doc = one_box_coco_doc()
    doc["annotations"].append({"image_id": 2, "category_id": 7, "bbox": [0, 0, 5, 5]})
    with pytest.raises(DataError, match=r"'img/b.png' has 2 boxes in 'ann.json'"):
        load_data(coco_set(tmp_path, doc), input_shape=(1, 20, 40), task="localisation")


def test_the_digit_localiser_accepts_a_one_box_upload(tmp_path):
    import engine
    from engine.templates import load_template
    from engine.train.tasks.localisation import check_localiser

    files = {f"{i}.png": png(56, 56) for i in range(4)}
    files.update({f"{i}.txt": f"{i} 0.5 0.5 0.3 0.4\n" for i in range(4)})
    files["classes.txt"] = "\n".join(map(str, range(10)))
    d = load_data(str(write(tmp_path / "digits", files)), input_shape=(1, 56, 56), val_fraction=0.25,
                  task="localisation")
    g = load_template("digit_localiser")
    check_localiser(g, engine.check(g), d)  # raises TrainError if the data did not fit the localiser
