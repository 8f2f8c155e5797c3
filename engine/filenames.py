"""One rule for turning a user's name (a design, a run) into a file or folder name that is safe everywhere.

Used for run directories (engine.train.runs), the bundle's folder (engine.export.bundle) and the Export page's
download names, so the three never drift apart.
"""
from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")  # ASCII only: every file system, zip tool and HTTP header takes these


def safe_filename(name: str, default: str, *, sep: str = "_", max_len: int = 60) -> str:
    """`name` with every run of characters other than ASCII letters, digits, '-' and '_' replaced by one `sep`,
    without '-' or '_' at either end, cut to `max_len` characters; `default` when nothing is left.

    >>> safe_filename("My Net: v2!", "model", sep="-")
    'My-Net-v2'
    >>> safe_filename("  ", "model")
    'model'
    """
    if sep not in ("-", "_"):
        raise ValueError(f"sep must be '-' or '_'. Received: sep={sep!r}.")
    s = _UNSAFE.sub(sep, name).strip("-_")
    return s[:max_len].rstrip("-_") or default
