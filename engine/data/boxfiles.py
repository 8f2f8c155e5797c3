"""Detection data a user brings: a folder or .zip of images with YOLO-format .txt labels, or with one COCO JSON.

The files are scanned with the checks of engine.data.files (zip-slip, absolute paths, symlinks, types, total size;
never extracted), then:
- YOLO: each image `x.png` has a label file `x.txt` beside it or under a `labels/` folder mirroring `images/`;
  one line per object, `class cx cy w h`, the box as fractions of the image; an empty file is an image with no
  object. Class names come from `classes.txt` (one per line) when there is one.
- COCO: one .json with `images` (id, file_name, width, height), `annotations` (image_id, category_id, bbox
  [x, y, w, h] in pixels) and `categories` (id, name).
Refused, each message naming the file (and line): a malformed line, a box outside the image or without area, a
class id not in the class list, an image without labels, labels without an image. Images are resized to the
graph's Input (boxes scaled with them); labels become (N, M, 5) rows (class, x1, y1, x2, y2), class -1 padding.
For a localisation graph (task="localisation") every image must hold exactly one box (refused otherwise, naming the
image and its label file) and labels are (N, 5), as mnist-locate's.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from engine.data.base import Data, DataError, split_holdout
from engine.data.files import IMAGE_EXTS, MAX_BYTES, _read, decode, open_zip, scan_folder, scan_zip
from engine.limits import MAX_IMAGE_BYTES

LABEL_EXTS = {".txt", ".json"}
DEFAULT_SHAPE = (3, 96, 96)
MAX_LABEL_BYTES = 50 * 2**20  # a label or COCO file larger than this is refused before parsing


def has_box_labels(path: Path) -> bool:
    """True when the folder or zip holds .txt or .json files (a detection set rather than class folders)."""
    if path.is_dir():
        return any(f.suffix.lower() in LABEL_EXTS and not f.name.startswith(".") for f in path.rglob("*"))
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return any(PurePosixPath(n).suffix.lower() in LABEL_EXTS and "__MACOSX" not in n for n in zf.namelist())
    return False


def load_box_files(path: Path, input_shape: tuple[int, ...] | None = None, val_fraction: float = 0.1, seed: int = 0,
                   max_bytes: int = MAX_BYTES, task: str = "detection") -> Data:
    shape = tuple(input_shape) if input_shape else DEFAULT_SHAPE
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise DataError(f"detection images load as 1-channel (grey) or 3-channel (RGB) images C×H×W, but the graph's "
                        f"Input is {'×'.join(map(str, shape))}. Set the Input shape to [1, H, W] or [3, H, W].")
    exts = IMAGE_EXTS | LABEL_EXTS
    if path.is_dir():
        return _load(path, scan_folder(path, max_bytes, exts, by_class=False), shape, val_fraction, seed, task)
    with open_zip(path) as zf:
        return _load(path, scan_zip(zf, path, max_bytes, exts, by_class=False), shape, val_fraction, seed, task)


def _text(read, name: str) -> str:
    raw = _read(read, name, MAX_IMAGE_BYTES)
    if len(raw) > MAX_LABEL_BYTES:
        raise DataError(f"'{name}' is larger than {MAX_LABEL_BYTES // 2**20} MB; a label file that large is refused.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"'{name}' is not UTF-8 text.") from None


def _load(path: Path, entries: list, shape, val_fraction: float, seed: int, task: str = "detection") -> Data:
    files = {"/".join(parts): (name, read) for parts, name, read in entries}
    images = {k: v for k, v in files.items() if PurePosixPath(k).suffix.lower() in IMAGE_EXTS}
    if not images:
        raise DataError(f"{path} holds no images. Put the images and their labels (YOLO .txt or one COCO .json) in it.")
    jsons = sorted(k for k in files if k.lower().endswith(".json"))
    if len(jsons) > 1:
        raise DataError(f"{path} holds {len(jsons)} JSON files ({', '.join(jsons[:4])}); a COCO data set has exactly "
                        f"one annotation file. Keep one.")
    if jsons:
        classes, boxes = _coco(files, images, jsons[0])
    else:
        classes, boxes = _yolo(files, images)
    C, H, W = shape
    keys = sorted(images)
    if task == "localisation":
        _one_box_each(keys, images, boxes, jsons[0] if jsons else None, files)
    x = np.zeros((len(keys), C, H, W), np.uint8)
    per: list[list] = []
    for n, k in enumerate(keys):
        name, read = images[k]
        raw = _read(read, name, MAX_IMAGE_BYTES)
        x[n] = decode(raw, shape, name)  # checks the size and that it is an image before the header is read
        with Image.open(io.BytesIO(raw)) as im:
            w0, h0 = im.size
        per.append(boxes[k](w0, h0))
    M = max(1, max(len(rows) for rows in per))
    y = np.zeros((len(keys), M, 5), np.float32)
    y[:, :, 0] = -1
    for n, rows in enumerate(per):
        for m, (c, fx1, fy1, fx2, fy2) in enumerate(rows):
            y[n, m] = (c, fx1 * W, fy1 * H, fx2 * W, fy2 * H)
    if task == "localisation":
        y = y[:, 0]  # exactly one box each (checked above): (N, 5), as mnist-locate
    data = split_holdout(path.name, classes, torch.from_numpy(x), torch.from_numpy(y), val_fraction, seed,
                         info={"path": str(path), "files": len(keys), "format": "coco" if jsons else "yolo"})
    data.task = "localisation" if task == "localisation" else "detection"
    return data


def _one_box_each(keys: list[str], images: dict, boxes: dict, coco: str | None, files: dict) -> None:
    """A localisation set has one object per image: refuse the first image with none or several, naming it and
    where its labels are."""
    for k in keys:
        n = len(boxes[k](1, 1))
        if n != 1:
            where = f"'{files[coco][0]}'" if coco else f"'{files[_label_of(k, files)][0]}'"
            raise DataError(f"'{images[k][0]}' has {n} boxes in {where} but a localisation graph needs exactly one "
                            f"object per image. Label one box for it (or remove the image), or set the graph's task "
                            f"to detection for images with several objects.")


def _label_of(image_key: str, files: dict) -> str:
    """The YOLO label file an image uses (_yolo has checked that one exists)."""
    return next(c for c in _label_for(image_key) if c in files)


def _label_for(image_key: str) -> list[str]:
    """Where an image's YOLO label may be: beside it, or in labels/ mirroring images/."""
    p = PurePosixPath(image_key)
    cands = [str(p.with_suffix(".txt"))]
    parts = list(p.parts)
    if "images" in parts:
        i = len(parts) - 1 - parts[::-1].index("images")
        cands.append(str(PurePosixPath(*parts[:i], "labels", *parts[i + 1:]).with_suffix(".txt")))
    return cands


def _yolo(files: dict, images: dict):
    names_key = next((k for k in files if PurePosixPath(k).name == "classes.txt"), None)
    names = None
    if names_key:
        names = [ln.strip() for ln in _text(files[names_key][1], files[names_key][0]).splitlines() if ln.strip()]
    used: set[str] = set()
    per_image: dict = {}
    top = -1
    for k, (name, _) in images.items():
        label = next((c for c in _label_for(k) if c in files), None)
        if label is None:
            raise DataError(f"'{name}' has no label file (expected '{_label_for(k)[-1]}'). Add one, empty for an "
                            f"image without objects.")
        used.add(label)
        lname, read = files[label]
        rows = []
        for i, line in enumerate(_text(read, lname).splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                c, cx, cy, w, h = int(parts[0]), *map(float, parts[1:])  # ValueError unless exactly 5
            except (ValueError, IndexError):
                raise DataError(f"'{lname}' line {i}: expected 'class cx cy w h' (an integer and 4 numbers). "
                                f"Received: {line.strip()[:80]!r}.") from None
            if c < 0 or (names is not None and c >= len(names)):
                known = f"classes.txt lists {len(names)} (ids 0..{len(names) - 1})" if names else "ids start at 0"
                raise DataError(f"'{lname}' line {i}: unknown class id {c}; {known}.")
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            eps = 1e-6
            if not (w > 0 and h > 0 and x1 >= -eps and y1 >= -eps and x2 <= 1 + eps and y2 <= 1 + eps):
                raise DataError(f"'{lname}' line {i}: the box is outside the image or has no area (YOLO boxes are "
                                f"fractions of the image: 0 <= cx ± w/2, cy ± h/2 <= 1, w, h > 0). Received: "
                                f"cx={cx:g} cy={cy:g} w={w:g} h={h:g}.")
            rows.append((c, max(x1, 0.0), max(y1, 0.0), min(x2, 1.0), min(y2, 1.0)))
            top = max(top, c)
        per_image[k] = lambda w0, h0, rows=rows: rows
    stray = sorted(k for k in files if k.lower().endswith(".txt") and k not in used and k != names_key)
    if stray:
        raise DataError(f"'{files[stray[0]][0]}' is a label file without an image (no image named like it). Remove "
                        f"it or add its image.")
    classes = names if names is not None else [str(i) for i in range(max(top + 1, 1))]
    return classes, per_image


def _coco(files: dict, images: dict, key: str):
    name, read = files[key]
    try:
        doc = json.loads(_text(read, name))
        cats = {int(c["id"]): str(c.get("name", c["id"])) for c in doc["categories"]}
        imgs = {int(i["id"]): i for i in doc["images"]}
        anns = doc.get("annotations", [])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"'{name}' is not a COCO annotation file (needs 'images', 'annotations', 'categories': "
                        f"{type(e).__name__}: {e}).") from None
    order = sorted(cats)
    index = {cid: i for i, cid in enumerate(order)}
    by_base = {PurePosixPath(k).name: k for k in images}
    key_of: dict[int, str] = {}
    for iid, im in imgs.items():
        fname = str(im.get("file_name", ""))
        k = fname if fname in images else by_base.get(PurePosixPath(fname).name)
        if k is None:
            raise DataError(f"'{name}': image id {iid} names '{fname}', which is not in the data set. Add the file or "
                            f"remove the entry.")
        key_of[iid] = k
    unlisted = sorted(set(images) - set(key_of.values()))
    if unlisted:
        raise DataError(f"'{images[unlisted[0]][0]}' has no entry in '{name}' (an image without labels). Add it to "
                        f"'images' or remove the file.")
    rows: dict[str, list] = {k: [] for k in key_of.values()}
    for n, a in enumerate(anns):
        try:
            iid, cid = int(a["image_id"]), int(a["category_id"])
            bx, by, bw, bh = (float(v) for v in a["bbox"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"'{name}': annotation {n} needs image_id, category_id and bbox [x, y, w, h].") from None
        if cid not in index:
            raise DataError(f"'{name}': annotation {n} has unknown category_id {cid}; the categories are "
                            f"{', '.join(map(str, order))}.")
        if iid not in key_of:
            raise DataError(f"'{name}': annotation {n} refers to image_id {iid}, which 'images' does not list.")
        W, H = float(imgs[iid].get("width", 0)), float(imgs[iid].get("height", 0))
        if not (bw > 0 and bh > 0 and bx >= 0 and by >= 0 and (W <= 0 or bx + bw <= W + 0.5)
                and (H <= 0 or by + bh <= H + 0.5)):
            raise DataError(f"'{name}': annotation {n} (image '{imgs[iid].get('file_name')}') has a box outside the "
                            f"{W:g}×{H:g} image or without area. Received: bbox=[{bx:g}, {by:g}, {bw:g}, {bh:g}].")
        rows[key_of[iid]].append((index[cid], bx, by, bx + bw, by + bh))

    def scaled(k):
        return lambda w0, h0: [(c, min(x1 / w0, 1), min(y1 / h0, 1), min(x2 / w0, 1), min(y2 / h0, 1))
                               for c, x1, y1, x2, y2 in rows[k]]

    return [cats[c] for c in order], {k: scaled(k) for k in rows}
