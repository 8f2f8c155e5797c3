"""Reading checkpoint and weights files without trusting them: the one place Convas opens one.

Torch files load with `weights_only=True` (tensors, numbers, strings and containers only: no code runs), weights
come as safetensors. A file either refuses is reported as what it is, "not a Convas checkpoint, not loaded", with
a short reason. Torch's own refusal text is never shown: it suggests retrying with `weights_only=False`, which
is exactly how a malicious pickle would run its payload. Errors are raised `from None`, so no traceback carries
that text either.
"""
from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load

__all__ = ["NotACheckpoint", "read_safetensors", "torch_load"]


class NotACheckpoint(ValueError):
    """A file that could not be loaded safely (a pickle asking to import code, a corrupt or foreign file)."""

    def __init__(self, path: str | os.PathLike, reason: str, what: str = "a Convas checkpoint"):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name} is not {what} and was not loaded: {reason}. Nothing in it was run; "
                         f"use a checkpoint written by Convas (or a safetensors file).")


def _refusal(e: BaseException) -> str:
    """Why torch refused a pickle, in our words: the global it asked for, never torch's advice."""
    m = re.search(r"GLOBAL ([\w.]+)", str(e))
    if m:
        return f"it asks to import {m.group(1)[:80]}, which a weights file never needs (it could run code)"
    return "it holds Python objects other than tensors, numbers and strings"


def torch_load(path: str | os.PathLike, what: str = "a Convas checkpoint") -> Any:
    """torch.load(path, weights_only=True) on the CPU; NotACheckpoint instead of torch's errors. A missing or
    unreadable file still raises OSError (that is not the file's fault)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except pickle.UnpicklingError as e:
        reason = _refusal(e) if "Weights only load failed" in str(e) else "it is not a readable torch file"
        raise NotACheckpoint(path, reason, what) from None
    except Exception:  # a truncated zip, a foreign format: torch raises RuntimeError, EOFError, KeyError, ...
        raise NotACheckpoint(path, "it is not a readable torch file (damaged, truncated or another format)",
                             what) from None


def read_safetensors(path: str | os.PathLike, data: bytes | None = None,
                     what: str = "a Convas checkpoint") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata (its values JSON-decoded when they are JSON, else kept as text) of a safetensors file;
    `data` when its bytes are already read. NotACheckpoint when the file is not valid safetensors."""
    if data is None:
        data = Path(path).read_bytes()
    try:
        tensors = st_load(data)
        n = int.from_bytes(data[:8], "little")  # safetensors: 8-byte header length, then a JSON header
        header = json.loads(data[8:8 + n])
    except (SafetensorError, ValueError, TypeError) as e:
        raise NotACheckpoint(path, f"it is not a valid safetensors file ({str(e)[:120]})", what) from None
    meta = {}
    for k, v in (header.get("__metadata__") or {}).items():
        try:
            meta[k] = json.loads(v)
        except (TypeError, ValueError):
            meta[k] = v
    return tensors, meta
