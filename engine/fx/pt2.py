"""Import a .pt2 archive (torch.export.save): the design and its weights, without running anything in the file.

Why not torch.export.load: on an untrusted file it is not safe. It unpickles with weights_only=False (pickled
weights and constants, the sample inputs when the safe load fails, custom objects), evaluates the symbolic shape
expressions stored as Python source (`Symbol('s77', positive=True, integer=True)` goes through sympy's eval), and
loads AOTInductor shared libraries. So this module reads the archive as a plain zip, with bounds:

- the design comes from `extra/convas_graph.json` (engine.export.formats.PT2_GRAPH_FILE), read as JSON text and
  checked by load_graph like any graph file;
- the weights come from `data/weights/`, described by `model_weights_config.json` (dtype, sizes, strides, offset
  of each tensor's raw bytes): rebuilt with torch.frombuffer, never unpickled; an entry stored as a pickle is
  refused;
- they must fit the design exactly (every name and shape of build_module(g).state_dict()).

A .pt2 made elsewhere (no Convas design inside) is read the same way: its program (models/model.json) is JSON
data naming aten ops, mapped to catalog ops by engine/fx/pt2_aten.py, and its weights come from the same raw-byte
reader. Nothing in the file is executed or evaluated.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

import torch

from engine.codegen import build_module
from engine.errors import GraphError
from engine.export.formats import PT2_GRAPH_FILE
from engine.fx import pt2_aten
from engine.fx.importer import ImportModelError
from engine.graph import Graph, load_graph
from engine.shapes import check

MAX_PT2_BYTES = 4 << 30  # the archive on disk
MAX_ENTRIES = 100_000
MAX_JSON_BYTES = 64 << 20  # the design and the weights' description
MAX_WEIGHT_BYTES = 4 << 30  # all weights together, as stored
_WEIGHT_FILE = re.compile(r"weight_\d{1,9}")
# torch.export's serialized dtype codes (torch/_export/serde/schema.py ScalarType): a table here so that reading
# weights needs nothing from torch's deserializer
_DTYPES = {1: torch.uint8, 2: torch.int8, 3: torch.int16, 4: torch.int32, 5: torch.int64, 6: torch.float16,
           7: torch.float32, 8: torch.float64, 12: torch.bool, 13: torch.bfloat16}


class Pt2Error(ImportModelError):
    """A .pt2 file that cannot be imported; the message names the problem and what to do."""


def import_pt2(path: str | os.PathLike) -> tuple[Graph, dict[str, torch.Tensor]]:
    """(the design, its weights) from a .pt2 that Convas exported. Raises Pt2Error for anything else."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError as e:
        raise Pt2Error(f"cannot read {name}: {e.strerror or e}.") from e
    if not path.is_file():
        raise Pt2Error(f"{name} is not a regular file.")
    if size > MAX_PT2_BYTES:
        raise Pt2Error(f"{name} is {size:,} bytes; .pt2 files up to {MAX_PT2_BYTES:,} bytes are imported.")
    try:
        with zipfile.ZipFile(path) as z:
            return _read(z, name)
    except zipfile.BadZipFile as e:
        raise Pt2Error(f"{name} is not a .pt2 archive (torch.export.save writes a zip file): {e}.") from e
    except (OSError, EOFError, NotImplementedError, RuntimeError, zipfile.LargeZipFile) as e:
        raise Pt2Error(f"{name} cannot be read as a .pt2 archive: {type(e).__name__}: {e}.") from e


def _read(z: zipfile.ZipFile, name: str) -> tuple[Graph, dict[str, torch.Tensor]]:
    infos = z.infolist()
    if len(infos) > MAX_ENTRIES:
        raise Pt2Error(f"{name} holds {len(infos):,} entries; a .pt2 archive with up to {MAX_ENTRIES:,} is imported.")
    entries: dict[str, zipfile.ZipInfo] = {}
    tops = set()
    for info in infos:
        n = info.filename
        if n.startswith(("/", "\\")) or "\\" in n or ".." in n.split("/") or ":" in n:
            raise Pt2Error(f"{name} has an entry with an unsafe path ({n[:80]!r}); it is not a torch.export archive.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise Pt2Error(f"{name} has a symbolic link ({n[:80]!r}); it is not a torch.export archive.")
        if info.flag_bits & 0x1:
            raise Pt2Error(f"{name} has an encrypted entry ({n[:80]!r}); it is not a torch.export archive.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Pt2Error(f"{name} uses a compression method ({info.compress_type}) torch.export never writes.")
        top, _, rest = n.partition("/")
        tops.add(top)
        entries[rest] = info
    if len(tops) != 1 or _text(z, entries, "archive_format", name, 16, required=False) != "pt2":
        raise Pt2Error(f"{name} is not a .pt2 archive: torch.export.save writes one folder with an 'archive_format' "
                       "entry saying pt2. Export the model with torch.export.save, or from Convas's Export page.")
    if any(k.startswith("data/aotinductor/") for k in entries):
        raise Pt2Error(f"{name} holds AOTInductor-compiled code (data/aotinductor/), which would run native code "
                       "when loaded; Convas imports only the design and weights of a .pt2 it exported.")
    design = _text(z, entries, f"extra/{PT2_GRAPH_FILE}", name, MAX_JSON_BYTES, required=False)
    if design is None:
        return _foreign(z, entries, name)
    try:
        g = load_graph(design)
    except GraphError as e:
        raise Pt2Error(f"{name} carries a design that is not a valid graph file: {e}") from e
    report = check(g)
    if not report.ok:
        raise Pt2Error(f"{name} carries a design that fails the shape check: {report.errors[0]}"
                       + (f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""))
    return g, _fitted(g, _weights(z, entries, name), name)


def _foreign(z: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], name: str) -> tuple[Graph, dict]:
    """A .pt2 from elsewhere: its program read as JSON data and mapped op by op (engine/fx/pt2_aten.py)."""
    models = [k for k in entries if k.startswith("models/")]
    if models != ["models/model.json"]:
        raise Pt2Error(f"{name} holds {len(models)} programs ({', '.join(m[7:] for m in models[:3]) or 'none'}); "
                       "a .pt2 with the one program torch.export.save names 'model' is imported.")
    try:
        program = json.loads(_text(z, entries, "models/model.json", name, MAX_JSON_BYTES) or "")
        g, state = pt2_aten.convert(program, _weights(z, entries, name), name)
    except (ValueError, RecursionError) as e:  # AtenError is a ValueError; json's errors too
        if isinstance(e, Pt2Error):
            raise
        raise Pt2Error(str(e) if isinstance(e, pt2_aten.AtenError) else
                       f"{name}: models/model.json is not readable JSON ({type(e).__name__}).") from e
    return g, _fitted(g, state, name)


def _read_bytes(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, what: str) -> bytes:
    """The entry's bytes, reading at most `limit` (+1 to notice more): a declared size is not trusted."""
    if info.file_size > limit:
        raise Pt2Error(f"{what} is {info.file_size:,} bytes; up to {limit:,} are read.")
    with z.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise Pt2Error(f"{what} inflates past {limit:,} bytes.")
    return data


def _text(z, entries, key: str, name: str, limit: int, required: bool = True) -> str | None:
    info = entries.get(key)
    if info is None:
        if required:
            raise Pt2Error(f"{name} lacks {key}; it is not a complete torch.export archive.")
        return None
    try:
        return _read_bytes(z, info, limit, f"{name}: {key}").decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise Pt2Error(f"{name}: {key} is not UTF-8 text.") from e


def _weights(z: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], name: str) -> dict[str, torch.Tensor]:
    """Every tensor of data/weights/, rebuilt from its raw bytes and its described dtype, sizes and strides."""
    raw = _text(z, entries, "data/weights/model_weights_config.json", name, MAX_JSON_BYTES)
    byteorder = _text(z, entries, "byteorder", name, 16, required=False) or "little"
    if byteorder != "little":
        raise Pt2Error(f"{name} stores its weights big-endian; only little-endian archives are imported.")
    try:
        config = json.loads(raw)["config"]
        if not isinstance(config, dict):
            raise TypeError("config is not a mapping")
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise Pt2Error(f"{name}: data/weights/model_weights_config.json is not torch.export's weight table: "
                       f"{type(e).__name__}.") from e
    storages: dict[str, bytes] = {}
    flats: dict[str, torch.Tensor] = {}
    out: dict[str, torch.Tensor] = {}
    for fqn, meta in config.items():
        try:
            out[fqn] = _tensor(z, entries, storages, flats, fqn, meta, name)
        except Pt2Error:
            raise
        except (KeyError, TypeError, ValueError) as e:
            raise Pt2Error(f"{name}: the weight {str(fqn)[:80]!r} is not described as torch.export describes one "
                           f"({type(e).__name__}: {e}).") from e
    return out


def _tensor(z, entries, storages: dict[str, bytes], flats: dict[str, torch.Tensor], fqn: str, meta: dict[str, Any],
            name: str) -> torch.Tensor:
    if meta.get("use_pickle"):
        raise Pt2Error(f"{name}: the weight {fqn[:80]!r} is stored as a pickle, which could run code when loaded; "
                       "Convas reads only raw tensor bytes.")
    file = meta["path_name"]
    if not isinstance(file, str) or not _WEIGHT_FILE.fullmatch(file):
        raise ValueError(f"path_name {str(file)[:40]!r}")
    tm = meta["tensor_meta"]
    dtype = _DTYPES[tm["dtype"]]
    sizes = [int(s["as_int"]) for s in tm["sizes"]]
    strides = [int(s["as_int"]) for s in tm["strides"]]
    offset = int(tm["storage_offset"]["as_int"])
    if len(sizes) != len(strides) or any(s < 0 for s in sizes + strides) or offset < 0:
        raise ValueError("negative or mismatched sizes and strides")
    if file not in storages:
        info = entries.get(f"data/weights/{file}")
        if info is None:
            raise KeyError(f"data/weights/{file} is missing")
        left = MAX_WEIGHT_BYTES - sum(map(len, storages.values()))  # once per stored file
        storages[file] = _read_bytes(z, info, left, f"{name}: data/weights/{file} (with the weights before it)")
    data = storages[file]
    itemsize = torch.empty((), dtype=dtype).element_size()
    extent = offset + sum((s - 1) * st for s, st in zip(sizes, strides)) + 1 if all(sizes) else 0
    if extent * itemsize > len(data):
        raise ValueError(f"{len(data)} bytes hold fewer elements than sizes {sizes} need")
    if math.prod(sizes) * itemsize > MAX_WEIGHT_BYTES:  # zero strides could make a small file a huge tensor
        raise ValueError(f"sizes {sizes[:8]} exceed {MAX_WEIGHT_BYTES:,} bytes")
    key = f"{file}\0{dtype}"
    if key not in flats:  # one copy per stored file, however many tensors view it
        flats[key] = torch.frombuffer(bytearray(data), dtype=dtype) if len(data) >= itemsize else \
            torch.empty(0, dtype=dtype)
    return torch.as_strided(flats[key], sizes, strides, offset).clone()


def _fitted(g: Graph, weights: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """The weights, when they are exactly what the design's module holds (names, shapes, dtypes)."""
    expected = build_module(g).state_dict()
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    wrong = sorted(k for k in set(expected) & set(weights)
                   if expected[k].shape != weights[k].shape or expected[k].dtype != weights[k].dtype)
    if missing or extra or wrong:
        parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + \
                ([f"unexpected {', '.join(extra[:3])}"] if extra else []) + \
                [f"{k}: the design needs {tuple(expected[k].shape)}, the file has {tuple(weights[k].shape)}"
                 for k in wrong[:3]]
        raise Pt2Error(f"{name}: the weights do not fit the design it carries (" + "; ".join(parts) + ").")
    return {k: weights[k] for k in expected}


__all__ = ["Pt2Error", "import_pt2"]
