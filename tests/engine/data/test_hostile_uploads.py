"""Hostile uploads (issue 13): every refusal is a DataError naming the entry, memory stays within the limits of
engine/limits.py whatever the headers declare, and nothing in a dataset folder can make loading block."""
from __future__ import annotations

import io
import os
import struct
import threading
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from engine import limits
from engine.data import DataError, load_data
from engine.data import files as data_files
from engine.data.files import load_image_files
from tests.engine.data.test_files import good_entries, make_folder, make_zip


def tiny_png(colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), colour).save(buf, format="PNG")
    return buf.getvalue()


def patch_entry(path: Path, name: str, *, flags: int | None = None, method: int | None = None,
                size: int | None = None) -> Path:
    """Rewrite one entry's headers (local and central) the way a hostile or foreign zip tool would have written
    them: general-purpose flags, compression method, declared uncompressed size."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
        local, central = info.header_offset, zf.start_dir
    assert data[local:local + 4] == b"PK\x03\x04"
    pos = central
    while data[pos:pos + 4] == b"PK\x01\x02":  # find the entry's central directory record
        n, m, k = struct.unpack_from("<HHH", data, pos + 28)
        if data[pos + 46:pos + 46 + n].decode() == name:
            break
        pos += 46 + n + m + k
    else:
        raise AssertionError(name)
    for base, flag_at, method_at, size_at in ((local, 6, 8, 22), (pos, 8, 10, 24)):
        if flags is not None:
            struct.pack_into("<H", data, base + flag_at, flags)
        if method is not None:
            struct.pack_into("<H", data, base + method_at, method)
        if size is not None:
            struct.pack_into("<I", data, base + size_at, size)
    path.write_bytes(bytes(data))
    return path


def peak_bytes(fn) -> int:
    """The most memory Python allocated while fn ran (tracemalloc sees numpy's and zlib's buffers too)."""
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# ---- 6. encrypted entries and unknown compression methods ----

@pytest.mark.parametrize("patch,match", [({"flags": 0x1}, "is encrypted"),
                                         ({"method": 99}, "compression method 99")], ids=["encrypted", "method-99"])
def test_entries_zipfile_cannot_unpack_are_a_data_error_naming_the_entry(tmp_path, patch, match):
    path = patch_entry(make_zip(tmp_path / "ds.zip", good_entries()), "dog/3.png", **patch)
    for load in (lambda: load_image_files(path, input_shape=(3, 8, 8)),
                 lambda: load_data(str(path), input_shape=(3, 8, 8))):
        with pytest.raises(DataError, match=match) as e:
            load()
        assert "'dog/3.png'" in str(e.value)


# ---- 7. memory bounded by the limits, not by declared sizes ----

def test_many_tiny_images_are_refused_before_the_decoded_array_is_allocated(tmp_path):
    """20,000 1×1 PNGs (a 3 MB zip) for a 3×224×224 Input would decode to 3 GB: refused up front."""
    one = tiny_png()
    with zipfile.ZipFile(tmp_path / "tiny.zip", "w") as zf:
        for i in range(20_000):
            zf.writestr(f"{('cat', 'dog')[i % 2]}/{i}.png", one)
    assert (tmp_path / "tiny.zip").stat().st_size < 4 * 2**20
    caught: list[str] = []

    def load():
        try:
            load_image_files(tmp_path / "tiny.zip", input_shape=(3, 224, 224))
        except DataError as e:
            caught.append(str(e))

    peak = peak_bytes(load)
    assert caught and "20,000 images of 3×224×224" in caught[0] and "over the limit" in caught[0]
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated before the refusal"


def test_the_decoded_limit_counts_images_times_the_input_shape(tmp_path):
    path = make_zip(tmp_path / "ds.zip", good_entries())  # 12 images
    d = load_image_files(path, input_shape=(3, 8, 8), max_decoded=12 * 3 * 8 * 8)
    assert len(d.x_train) + len(d.x_val) + len(d.x_test) == 12
    with pytest.raises(DataError, match="12 images of 3×8×8"):
        load_image_files(path, input_shape=(3, 8, 8), max_decoded=12 * 3 * 8 * 8 - 1)


def test_an_entry_that_inflates_past_its_declared_size_is_stopped_in_bounded_memory(tmp_path):
    """It declares 1,000 bytes and inflates to 64 MiB: read in chunks, it is caught after at most one chunk."""
    entries = {**good_entries(), "cat/bomb.png": bytes(64 * 2**20)}
    with zipfile.ZipFile(tmp_path / "ds.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    path = patch_entry(tmp_path / "ds.zip", "cat/bomb.png", size=1000)
    assert path.stat().st_size < 2**20
    caught: list[str] = []

    def load():
        try:
            load_image_files(path, input_shape=(3, 8, 8))
        except DataError as e:
            caught.append(str(e))

    peak = peak_bytes(load)
    assert caught and "'ds.zip:cat/bomb.png'" in caught[0]
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MiB allocated before the refusal"


def test_an_image_over_the_per_file_limit_is_refused_in_a_zip_and_in_a_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(data_files, "MAX_IMAGE_BYTES", 2**20)
    zipped = make_zip(tmp_path / "ds.zip", {**good_entries(), "dog/zeros.png": bytes(8 * 2**20)})
    with pytest.raises(DataError, match="'dog/zeros.png' unpacks to 8.0 MB, over the limit of 1.0 MB per image"):
        load_image_files(zipped, input_shape=(3, 8, 8))
    folder = make_folder(tmp_path / "ds")
    (folder / "dog" / "zeros.png").write_bytes(bytes(8 * 2**20))
    with pytest.raises(DataError, match="'dog/zeros.png' is 8.0 MB, over the limit of 1.0 MB per image"):
        load_image_files(folder, input_shape=(3, 8, 8))


def test_a_truthful_zip_of_zeros_is_refused_in_bounded_memory(tmp_path):
    """A small zip holding 128 MiB of zeros in one entry (the attack used 1 GiB): refused from its size, before
    anything is unpacked."""
    with zipfile.ZipFile(tmp_path / "zeros.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in good_entries().items():
            zf.writestr(name, data)
        with zf.open("cat/zeros.png", "w") as f:
            block = bytes(2**24)
            for _ in range(8):
                f.write(block)
    assert (tmp_path / "zeros.zip").stat().st_size < 2**20
    caught: list[str] = []

    def load():
        try:
            load_image_files(tmp_path / "zeros.zip", input_shape=(3, 8, 8))
        except DataError as e:
            caught.append(str(e))

    peak = peak_bytes(load)
    assert caught and "'cat/zeros.png' unpacks to 128.0 MB" in caught[0]
    assert peak < 16 * 2**20


# ---- 8. a named pipe (or anything that is not a regular file) in a dataset folder ----

def load_beside_a_pipe(folder: Path, fifo: Path) -> BaseException | None:
    """What loading the folder raises; fails the test, instead of hanging it, when loading blocks on the pipe."""
    outcome: list[BaseException | None] = []

    def load():
        try:
            load_image_files(folder, input_shape=(3, 8, 8))
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - returned to the test
            outcome.append(e)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():  # blocked opening the pipe: give it a writer that closes at once, so it ends
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=60)
        pytest.fail("loading blocked on a named pipe in the dataset folder")
    return outcome[0]


def test_a_named_pipe_in_a_dataset_folder_is_refused_without_blocking(tmp_path):
    folder = make_folder(tmp_path / "ds")
    os.mkfifo(folder / "cat" / "9.png")
    err = load_beside_a_pipe(folder, folder / "cat" / "9.png")
    assert isinstance(err, DataError) and "'cat/9.png' is not a regular file" in str(err)


def test_a_symlink_inside_the_folder_to_a_pipe_is_refused(tmp_path):
    folder = make_folder(tmp_path / "ds")
    (folder / ".hidden").mkdir()  # hidden: skipped by the scan, so only the link can lead to the pipe
    os.mkfifo(folder / ".hidden" / "pipe")
    (folder / "cat" / "9.png").symlink_to(folder / ".hidden" / "pipe")
    err = load_beside_a_pipe(folder, folder / ".hidden" / "pipe")
    assert isinstance(err, DataError) and "'cat/9.png' is not a regular file" in str(err)


def test_limits_are_the_ones_the_module_reads():
    assert data_files.MAX_BYTES == limits.MAX_DATA_BYTES and data_files.MAX_PIXELS == limits.MAX_PIXELS
