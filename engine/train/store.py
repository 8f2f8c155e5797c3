"""How a run's files are written and read, without their names (engine.train.rundir owns those): JSON written
atomically and read forgivingly, safetensors weights with metadata, and the check that a checkpoint fits a graph.

Every file is written to a temporary name and renamed over the old one (engine.atomic), so `kill -9` at any
moment leaves a readable directory.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save

from engine.atomic import atomic_write_bytes
from engine.safeload import read_safetensors


def atomic_write_json(path: str | os.PathLike, obj: Any, durable: bool = True) -> None:
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_jsonable) + "\n"
    atomic_write_bytes(path, text.encode(), durable)


def _jsonable(o: Any) -> Any:
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """The parsed file, or `default` when it is missing or unreadable (a reader never crashes on a run dir)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def process_start(pid: int) -> int | None:
    """When the process started (clock ticks since boot, Linux /proc), to tell a pid from a later reuse of it."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


# ---- checkpoints ---------------------------------------------------------------------------------------------

def weights_bytes(model: torch.nn.Module, metadata: dict[str, Any] | None = None) -> bytes:
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = {k: json.dumps(v) for k, v in (metadata or {}).items()}
    return st_save(tensors, metadata=meta)


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of a safetensors file (no pickle involved; the file is read once). A file that is not
    valid safetensors raises engine.safeload.NotACheckpoint."""
    return read_safetensors(path)


def read_header_metadata(path: Path) -> dict[str, Any]:
    """The metadata of a safetensors file from its header alone (the tensors are not read); {} when the file is
    missing or not safetensors."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if n > 100_000_000:
                return {}
            header = json.loads(f.read(n))
        return {k: json.loads(v) for k, v in (header.get("__metadata__") or {}).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def diff_state_dict(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> list[str]:
    """Human lines naming every layer whose weights do not fit the graph's module ([] when they match)."""
    lines = []
    for k in sorted(set(expected) | set(found)):
        if k not in found:
            lines.append(f"{k}: in the graph, missing from the checkpoint")
        elif k not in expected:
            lines.append(f"{k}: in the checkpoint, not in the graph")
        elif tuple(expected[k].shape) != tuple(found[k].shape):
            lines.append(f"{k}: the graph needs {tuple(expected[k].shape)}, the checkpoint has {tuple(found[k].shape)}")
    return lines


class CheckpointMismatch(ValueError):
    """A checkpoint that does not fit the graph; the message lists the layers that differ."""

    def __init__(self, where: Path, lines: list[str]):
        self.lines = lines
        shown = "; ".join(lines[:8]) + (f"; and {len(lines) - 8} more" if len(lines) > 8 else "")
        super().__init__(f"the checkpoint {where} does not match the graph ({len(lines)} layer(s) differ: {shown}). "
                         f"Load it with the graph it was trained with, or start a new run.")


def load_weights_into(model: torch.nn.Module, path: Path) -> dict[str, Any]:
    """Copy a safetensors file into model after checking every name and shape; returns its metadata."""
    tensors, meta = read_weights(path)
    lines = diff_state_dict(model.state_dict(), tensors)
    if lines:
        raise CheckpointMismatch(path, lines)
    model.load_state_dict(tensors)
    return meta
