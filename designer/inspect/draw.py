"""A small drawing pad: draw a digit with the mouse or a finger; the pad sends its pixels (SIDE×SIDE grey values)
when a stroke ends and every few hundred milliseconds while drawing, so the prediction follows the pen. Python
turns them into the model input (inspect_inputs).

A Streamlit Components v2 component in package mode, like the canvas: pyproject.toml declares the component
"drawing_pad" of the project "convas" with asset_dir designer/inspect/pad, which holds its hand-written JavaScript
(pad.js, no build step) and CSS (pad.css). The sizes below go to it as the component's data."""
from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import streamlit as st

SIDE = 84  # pixels sent to Python: 3× MNIST's 28, enough to crop and centre the digit the way MNIST did
VIEW = 252  # on-screen size of the pad in CSS pixels

NAME = "convas.drawing_pad"
PAD = Path(__file__).resolve().parent / "pad"
JS, CSS = "pad.js", "pad.css"


@cache
def _component():
    # registered on first use, inside a running app (see designer/canvas/__init__.py: the runtime has scanned the
    # installed packages' manifests by then, which is what lets the file names resolve in asset_dir)
    return st.components.v2.component(NAME, js=JS, css=CSS)


def drawing_pad(key: str, on_change: Callable[[], None] | None = None) -> list | None:
    """Mount the pad (always with the same key, so the drawing survives reruns); returns the last pixels sent
    (a flat list of SIDE×SIDE grey values 0-255) or None when blank."""
    result = _component()(key=key, data={"side": SIDE, "view": VIEW}, default={"pixels": None}, height="content",
                          on_pixels_change=on_change or (lambda: None))
    return getattr(result, "pixels", None)


def asset_files() -> list[Path]:
    """The files the pad's component serves."""
    return [PAD / JS, PAD / CSS]
