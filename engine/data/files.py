"""Image folders (one sub-folder per class) and .zip files of one, read into tensors.

A zip is checked entry by entry before a single byte of content is read, and it is never extracted: images are
decoded from memory. Refused, with the entry named: `..` in a path, an absolute path, a symlink, an encrypted
entry or one packed with a method zipfile cannot unpack, a file that is not an image, and sizes over the limits
of engine/limits.py. A folder gets the same size and file-type checks; a symlink that leads outside it, and
anything that is not a regular file (a named pipe would block the reader forever), are refused.

Memory is bounded by the limits, not by what headers declare: an entry is unpacked in chunks and counted while it
inflates (at most MAX_IMAGE_BYTES per file, MAX_DATA_BYTES in all), and the decoded dataset's size (images × C×H×W
bytes) is checked against MAX_DECODED_BYTES before its one array is allocated.
"""
from __future__ import annotations

import io
import lzma
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
from engine.limits import MAX_DATA_BYTES, MAX_DECODED_BYTES, MAX_IMAGE_BYTES, MAX_PIXELS

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
MAX_BYTES = MAX_DATA_BYTES  # largest total (unpacked) size of a folder or zip we read
ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
               zipfile.ZIP_LZMA: "lzma"}  # what zipfile unpacks; others (e.g. 99, AES) raise NotImplementedError
CHUNK = 2**20  # bytes unpacked at a time: a lying size header costs at most this much before it is caught
DEFAULT_SHAPE = (3, 32, 32)  # when no graph says what size the images should be

Entry = tuple[str, str, Callable[[int], bytes]]  # (class name, path shown in messages, read at most n bytes)


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
    """Check every entry of the zip (names, types, sizes) and return readers (read(limit) -> bytes) for its images.
    by_class=False: (path parts, name shown in messages, read) for every file of the allowed types, wherever it is."""
    files = check_zip_entries(zf, path, max_bytes, exts, "an image" if exts is IMAGE_EXTS else "an allowed file")
    if not by_class:
        return [(parts, f"{path.name}:{info.filename}", lambda n, info=info: _read_entry(zf, info, n))
                for parts, info in files]
    parts_list = _strip_common_root([p for p, _ in files], path.name)
    return [(parts[0], f"{path.name}:{info.filename}", lambda n, info=info: _read_entry(zf, info, n))
            for parts, (_, info) in zip(parts_list, files)]


def check_zip_entries(zf: zipfile.ZipFile, path: Path, max_bytes: int = MAX_BYTES, exts: set[str] = IMAGE_EXTS,
                      what: str = "an image", max_entry: int | None = None) -> list[tuple[list[str], zipfile.ZipInfo]]:
    """The zip's files as (path parts, entry), refusing symlinks, absolute paths, `..`, files whose extension is
    not in `exts`, encrypted entries, unknown compression, an entry declaring over max_entry and a total declared
    size over max_bytes; hidden and macOS metadata entries are skipped. Read entries with read_zip_entry, which
    bounds what they really unpack to."""
    per = "image" if exts is IMAGE_EXTS else "file"
    max_entry = MAX_IMAGE_BYTES if max_entry is None else max_entry  # read now: tests lower the module's limit
    files: list[tuple[list[str], zipfile.ZipInfo]] = []
    total = 0
    for info in zf.infolist():
        name = info.filename
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise DataError(f"{path.name} is refused: '{name}' is a symbolic link. Zip the files themselves.")
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            raise DataError(f"{path.name} is refused: '{name}' is an absolute path. Zip the folder with relative "
                            f"paths (class/image.png).")
        parts = [p for p in re.split(r"[/\\]", name) if p]
        if ".." in parts:
            raise DataError(f"{path.name} is refused: '{name}' climbs out of the archive with '..'.")
        if info.is_dir() or not parts or _ignored(parts):
            continue
        if Path(parts[-1]).suffix.lower() not in exts:
            raise DataError(f"{path.name} is refused: '{name}' is not {what} (allowed: "
                            f"{', '.join(sorted(exts))}). Remove it from the zip.")
        if info.flag_bits & 0x1:
            raise DataError(f"{path.name} is refused: '{name}' is encrypted (password-protected). Zip the files "
                            f"without a password.")
        if info.compress_type not in ZIP_METHODS:
            raise DataError(f"{path.name} is refused: '{name}' is packed with compression method "
                            f"{info.compress_type}, which Convas cannot unpack (it reads "
                            f"{', '.join(ZIP_METHODS.values())}). Zip it again with standard compression.")
        if info.file_size > max_entry:
            raise DataError(f"{path.name} is refused: '{name}' unpacks to {_mb(info.file_size)}, over the limit of "
                            f"{_mb(max_entry)} per {per}.")
        total += info.file_size
        if total > max_bytes:
            raise DataError(f"{path.name} is refused: it unpacks to more than the limit of {_mb(max_bytes)} "
                            f"(declared sizes). Use a smaller dataset or a folder.")
        files.append((parts, info))
    return files


def read_zip_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A checked entry's bytes, at most `limit` of them whatever its header declared; DataError naming the entry
    when it unpacks to more, or cannot be unpacked."""
    try:
        return _read_entry(zf, info, limit)
    except _Oversize:
        raise DataError(f"'{info.filename}' unpacks to more than the limit of {_mb(limit)} (its header declared "
                        f"{_mb(info.file_size)}); it was not read.") from None
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, zlib.error, lzma.LZMAError) as e:
        raise DataError(f"'{info.filename}' cannot be unpacked ({type(e).__name__}: {e}).") from None


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """An entry's bytes, unpacked CHUNK at a time; more than `limit` is refused whatever the header declared."""
    out = bytearray()
    with zf.open(info) as f:
        while chunk := f.read(CHUNK):
            out += chunk
            if len(out) > limit:
                raise _Oversize(len(out))
    return bytes(out)


class _Oversize(Exception):
    """A file unpacked past its limit (raised by a reader, turned into a DataError naming the entry)."""


def scan_folder(path: Path, max_bytes: int = MAX_BYTES, exts: set[str] = IMAGE_EXTS, by_class: bool = True) -> list:
    """Check every file of the folder (links, types, sizes) and return readers (read(limit) -> bytes) for its images;
    by_class=False as for scan_zip."""
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
            try:
                st = f.stat()  # of the file a symlink (inside the folder) leads to
            except OSError as e:
                raise DataError(f"{path} is refused: '{f.relative_to(path)}' cannot be read ({e.strerror}).") from None
            if not stat.S_ISREG(st.st_mode):  # a named pipe would block the reader forever; a device never ends
                raise DataError(f"{path} is refused: '{f.relative_to(path)}' is not a regular file (a named pipe, "
                                f"socket or device). Move it out of the dataset folder.")
            if f.suffix.lower() not in exts:
                raise DataError(f"{path} is refused: '{f.relative_to(path)}' is not an image (allowed: "
                                f"{', '.join(sorted(exts))}). Move it out of the dataset folder.")
            if st.st_size > MAX_IMAGE_BYTES:
                raise DataError(f"{path} is refused: '{f.relative_to(path)}' is {_mb(st.st_size)}, over the limit "
                                f"of {_mb(MAX_IMAGE_BYTES)} per image.")
            total += st.st_size
            if total > max_bytes:
                raise DataError(f"{path} is refused: its images add up to more than the limit of {_mb(max_bytes)}.")
            found.append((parts, f))
    if not by_class:
        return [(parts, str(f.relative_to(path)), lambda n, f=f: _read_file(f, n)) for parts, f in found]
    parts_list = _strip_common_root([p for p, _ in found], str(path))
    return [(parts[0], str(f), lambda n, f=f: _read_file(f, n)) for parts, (_, f) in zip(parts_list, found)]


def _read_file(f: Path, limit: int) -> bytes:
    """A file's bytes, at most `limit`; it must still be a regular file when opened (it may have changed since the
    scan), and opening never blocks."""
    fd = os.open(f.resolve(), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"'{f.name}' is not a regular file")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _Oversize(len(data))
    return data


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


def _read(read: Callable[[int], bytes], name: str, limit: int) -> bytes:
    try:
        return read(limit)
    except _Oversize as e:
        raise DataError(f"'{name}' unpacks to more than {_mb(limit)} (at least {_mb(e.args[0])}), over the limit "
                        f"(per image {_mb(MAX_IMAGE_BYTES)}, {_mb(MAX_BYTES)} in all); its size header is wrong "
                        f"or the dataset is too large.") from None
    except (RuntimeError, NotImplementedError) as e:  # encrypted or an unknown method, should the scan miss it
        raise DataError(f"'{name}' cannot be unpacked ({e}). Zip the images again, without a password.") from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, lzma.LZMAError) as e:  # corrupt, or a lying header
        raise DataError(f"'{name}' cannot be read ({type(e).__name__}: {e}).") from None


def load_image_files(path: Path, input_shape: tuple[int, ...] | None = None, val_fraction: float = 0.1,
                     seed: int = 0, max_bytes: int = MAX_BYTES, max_decoded: int = MAX_DECODED_BYTES) -> Data:
    """A class-per-folder dataset (folder or .zip) as Data, images sized to the graph's Input (C×H×W)."""
    shape = tuple(input_shape) if input_shape else DEFAULT_SHAPE
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise DataError(f"image folders load as 1-channel (grey) or 3-channel (RGB) images C×H×W, but the graph's "
                        f"Input is {'×'.join(map(str, shape))}. Set the Input shape to [1, H, W] or [3, H, W].")
    if path.is_dir():
        return _load_entries(path, scan_folder(path, max_bytes), shape, val_fraction, seed, max_bytes, max_decoded)
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        with open_zip(path) as zf:
            return _load_entries(path, scan_zip(zf, path, max_bytes), shape, val_fraction, seed, max_bytes,
                                 max_decoded)
    raise DataError(f"{path} is neither a folder nor a .zip of one. Received: data={str(path)!r}.")


def _load_entries(path: Path, entries: list[Entry], shape: tuple[int, int, int], val_fraction: float,
                  seed: int, max_bytes: int = MAX_BYTES, max_decoded: int = MAX_DECODED_BYTES) -> Data:
    classes = sorted({c for c, _, _ in entries})
    if len(classes) < 2:
        raise DataError(f"{path} has {len(classes)} class folder(s) ({', '.join(classes)}); classification needs "
                        f"at least 2 (one sub-folder per class).")
    index = {c: i for i, c in enumerate(classes)}
    decoded = len(entries) * int(np.prod(shape))  # uint8: one byte per value
    if decoded > max_decoded:  # before a byte of it is allocated
        raise DataError(f"{path} is refused: {len(entries):,} images of {'×'.join(map(str, shape))} take "
                        f"{_mb(decoded)} decoded, over the limit of {_mb(max_decoded)}. Use fewer images or a "
                        f"smaller Input shape.")
    images = np.empty((len(entries), *shape), dtype=np.uint8)  # one array, filled in place: no second copy
    left = max_bytes  # unpacked bytes as actually read, not as declared
    for i, (_, name, read) in enumerate(entries):
        raw = _read(read, name, min(MAX_IMAGE_BYTES, left))
        left -= len(raw)
        images[i] = decode(raw, shape, name)
        del raw
    labels = np.array([index[c] for c, _, _ in entries], dtype=np.int64)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    return split_holdout(path.name, classes, x, y, val_fraction, seed, augment="crop+flip",
                         info={"path": str(path), "files": len(entries)})
