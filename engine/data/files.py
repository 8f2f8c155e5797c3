"""Image folders (one sub-folder per class) and .zip files of one, read into tensors.

A zip is checked entry by entry before a single byte of content is read, and it is never extracted: images are
decoded from memory. Refused, with the entry named: `..` in a path, an absolute path, a symlink, a file that is
not an image, and a total unpacked size over the limit. A folder gets the same size and file-type checks, and
a symlink that leads outside it is refused.
"""
from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from engine.data.base import Data, DataError, split_holdout

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
MAX_BYTES = 2 * 2**30  # largest total (unpacked) size of a folder or zip we load into memory
MAX_PIXELS = 40_000_000  # largest image we decode (PIL itself only warns below ~89 M)
DEFAULT_SHAPE = (3, 32, 32)  # when no graph says what size the images should be

Entry = tuple[str, str, Callable[[], bytes]]  # (class name, path shown in messages, read the bytes)


def _ignored(parts: list[str]) -> bool:
    """Hidden files and macOS metadata (.DS_Store, __MACOSX/) are skipped, never read."""
    return any(p.startswith(".") for p in parts) or parts[0] == "__MACOSX"


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path.name} is not a readable zip file ({e}).") from None


def scan_zip(zf: zipfile.ZipFile, path: Path, max_bytes: int = MAX_BYTES, exts: set[str] = IMAGE_EXTS,
             by_class: bool = True) -> list:
    """Check every entry of the zip (names, types, sizes) and return readers for its images. by_class=False:
    (path parts, name shown in messages, read) for every file of the allowed types, wherever it is."""
    files: list[tuple[list[str], zipfile.ZipInfo]] = []
    total = 0
    for info in zf.infolist():
        name = info.filename
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise DataError(f"{path.name} is refused: '{name}' is a symbolic link. Zip the image files themselves.")
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            raise DataError(f"{path.name} is refused: '{name}' is an absolute path. Zip the folder with relative "
                            f"paths (class/image.png).")
        parts = [p for p in re.split(r"[/\\]", name) if p]
        if ".." in parts:
            raise DataError(f"{path.name} is refused: '{name}' climbs out of the archive with '..'.")
        if info.is_dir() or not parts or _ignored(parts):
            continue
        if Path(parts[-1]).suffix.lower() not in exts:
            raise DataError(f"{path.name} is refused: '{name}' is not an image (allowed: "
                            f"{', '.join(sorted(exts))}). Remove it from the zip.")
        total += info.file_size
        if total > max_bytes:
            raise DataError(f"{path.name} is refused: it unpacks to more than the limit of {_mb(max_bytes)} "
                            f"(declared sizes). Use a smaller dataset or a folder.")
        files.append((parts, info))
    if not by_class:
        return [(parts, f"{path.name}:{info.filename}", lambda info=info: zf.read(info)) for parts, info in files]
    parts_list = _strip_common_root([p for p, _ in files], path.name)
    return [(parts[0], f"{path.name}:{info.filename}", lambda info=info: zf.read(info))
            for parts, (_, info) in zip(parts_list, files)]


def scan_folder(path: Path, max_bytes: int = MAX_BYTES, exts: set[str] = IMAGE_EXTS, by_class: bool = True) -> list:
    root = path.resolve()
    found: list[tuple[list[str], Path]] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for fn in sorted(filenames):
            f = Path(dirpath) / fn
            parts = list(f.relative_to(path).parts)
            if _ignored(parts):
                continue
            if f.is_symlink() and not f.resolve().is_relative_to(root):
                raise DataError(f"{path} is refused: '{f}' is a symbolic link to a file outside the folder.")
            if f.suffix.lower() not in exts:
                raise DataError(f"{path} is refused: '{f.relative_to(path)}' is not an image (allowed: "
                                f"{', '.join(sorted(exts))}). Move it out of the dataset folder.")
            total += f.stat().st_size
            if total > max_bytes:
                raise DataError(f"{path} is refused: its images add up to more than the limit of {_mb(max_bytes)}.")
            found.append((parts, f))
    if not by_class:
        return [(parts, str(f.relative_to(path)), f.read_bytes) for parts, f in found]
    parts_list = _strip_common_root([p for p, _ in found], str(path))
    return [(parts[0], str(f), f.read_bytes) for parts, (_, f) in zip(parts_list, found)]


def _strip_common_root(all_parts: list[list[str]], where: str) -> list[list[str]]:
    """Class = first folder. A zip of one folder (dataset/cat/1.png) is read as if it held cat/1.png."""
    if not all_parts:
        raise DataError(f"{where} holds no images. Put them in one sub-folder per class (cat/1.png, dog/2.png).")
    while all(len(p) > 2 for p in all_parts) and len({p[0] for p in all_parts}) == 1:
        all_parts = [p[1:] for p in all_parts]
    loose = next((p for p in all_parts if len(p) < 2), None)
    if loose:
        raise DataError(f"{where}: '{'/'.join(loose)}' is not inside a class folder. Put every image in one "
                        f"sub-folder per class (cat/1.png, dog/2.png).")
    return all_parts


def decode(raw: bytes, shape: tuple[int, int, int], name: str) -> np.ndarray:
    """Bytes of an image file -> uint8 (C, H, W) of `shape` (grey for C=1, RGB for C=3, resized bilinearly)."""
    C, H, W = shape
    try:
        with Image.open(io.BytesIO(raw)) as im:
            if im.width * im.height > MAX_PIXELS:  # decided from the header, before decoding a byte of pixels
                raise DataError(f"'{name}' is {im.width}×{im.height} pixels, over the limit of {MAX_PIXELS:,} per "
                                f"image (a decompression bomb, or a photo far larger than any input layer).")
            im = im.convert("L" if C == 1 else "RGB")
            if im.size != (W, H):
                im = im.resize((W, H), Image.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"'{name}' is not a readable image ({type(e).__name__}: {e}). Remove or replace it.") from None
    return a[None] if C == 1 else a.transpose(2, 0, 1)


def _read(read: Callable[[], bytes], name: str) -> bytes:
    try:
        return read()
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:  # a corrupt entry or a lying size header
        raise DataError(f"'{name}' cannot be read ({type(e).__name__}: {e}).") from None


def load_image_files(path: Path, input_shape: tuple[int, ...] | None = None, val_fraction: float = 0.1,
                     seed: int = 0, max_bytes: int = MAX_BYTES) -> Data:
    """A class-per-folder dataset (folder or .zip) as Data, images sized to the graph's Input (C×H×W)."""
    shape = tuple(input_shape) if input_shape else DEFAULT_SHAPE
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise DataError(f"image folders load as 1-channel (grey) or 3-channel (RGB) images C×H×W, but the graph's "
                        f"Input is {'×'.join(map(str, shape))}. Set the Input shape to [1, H, W] or [3, H, W].")
    if path.is_dir():
        return _load_entries(path, scan_folder(path, max_bytes), shape, val_fraction, seed)
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        with open_zip(path) as zf:
            return _load_entries(path, scan_zip(zf, path, max_bytes), shape, val_fraction, seed)
    raise DataError(f"{path} is neither a folder nor a .zip of one. Received: data={str(path)!r}.")


def _load_entries(path: Path, entries: list[Entry], shape: tuple[int, int, int], val_fraction: float,
                  seed: int) -> Data:
    classes = sorted({c for c, _, _ in entries})
    if len(classes) < 2:
        raise DataError(f"{path} has {len(classes)} class folder(s) ({', '.join(classes)}); classification needs "
                        f"at least 2 (one sub-folder per class).")
    index = {c: i for i, c in enumerate(classes)}
    images = np.stack([decode(_read(read, name), shape, name) for _, name, read in entries])
    labels = np.array([index[c] for c, _, _ in entries], dtype=np.int64)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    return split_holdout(path.name, classes, x, y, val_fraction, seed, augment="crop+flip",
                         info={"path": str(path), "files": len(entries)})
