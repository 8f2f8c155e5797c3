"""The design canvas: a Streamlit Components v2 component around React Flow (sources in frontend/, bundle in dist/).

Registered in package mode: pyproject.toml declares the component "canvas" of the project "convas" with
asset_dir designer/canvas/dist (so the project must be pip-installed, editable is fine), and the js/css below
name files in that folder. Rebuild the bundle with `cd designer/canvas/frontend && npm ci && npm run build`
(`make canvas`); `npm run typecheck` (tsc) and `npm test` (vitest, frontend/test/) check the sources (`make
canvas-check`, part of CI).

Messages (see frontend/src/types.ts): `data` goes to the canvas (the graph with its check results, the palette,
the op table, the layout sizes it places new nodes with); the canvas sends the state value "canvas" (its whole
structure after each committed edit, and the selection) and the trigger "command" (undo, redo, auto-layout,
composite block).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import streamlit as st

NAME = "convas.canvas"
DIST = Path(__file__).resolve().parent / "dist"
JS, CSS = "canvas.js", "canvas.css"



@cache
def _component():
    # registered on first use, inside a running app: the runtime has scanned the installed packages' manifests by
    # then, which is what lets the js/css names resolve to files in asset_dir
    return st.components.v2.component(NAME, js=JS, css=CSS, isolate_styles=True)


def canvas(data: dict[str, Any], *, key: str, on_canvas_change: Callable[[], None],
           on_command_change: Callable[[], None]) -> Any:
    """Mount the canvas. Always pass the same `key`: the component's identity (and its state: positions being
    dragged, the viewport, the selection) must survive every rerun. Callbacks run before the script, so edits are
    adopted before the page computes shapes."""
    return _component()(key=key, data=data, height="content", on_canvas_change=on_canvas_change,
                      on_command_change=on_command_change)


def view(data: dict[str, Any], *, key: str) -> Any:
    """Mount a read-only view of a design (designer/diff/canvas.py builds its `data`, the ViewData type in
    frontend/src/view.ts): the same cards, pan and zoom only, nothing sent back."""
    return _component()(key=key, data=data, height="content")


def bundle_files() -> list[Path]:
    """The built files the component serves (missing ones mean the frontend was never built)."""
    return [DIST / JS, DIST / CSS]
