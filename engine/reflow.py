"""Re-flow: when a card grows or shrinks on the canvas, the cards it would cover make room, and come back up.

A card's height on the canvas is `card_height`: the layout's `node_h`, and for a module instance drawn expanded
its definition's layers too (`inner_head_h` + one `inner_row_h` per layer, the sizes the canvas draws the list
with: engine.layout's SIZES, sent in its data). A red card's one-line message stays within the gap between
layers (designer/canvas/frontend/src/ErrorNote.tsx), so it is not counted here.

`reflow(before, after)` compares every card's height in two versions of a design (an instance expanded or
collapsed, ...) and moves the cards below each card that changed:

- Growing by d: the cards that would be covered move down by d: those below the card that share some of its
  width, then, in turn, those below a moved card that share some of that one's width. Cards beside it (other
  columns) stay where they are; a moved card never moves less than a card above it that it shares width with,
  so no two cards that did not overlap come to overlap.
- Shrinking by d: the same cards move up by d, but never closer to a card above that they share width with than
  the gap between two layers (or than they already were): right after a grow this puts every card back where it
  was (laid-out cards are at least that gap apart), and after the user dragged things meanwhile it closes up
  without covering what was moved there.

The cards are swept once top to bottom; what was moved is kept per column bucket (a card's width wide), so a
card looks only at the x positions of the three buckets it can share width with: no comparison of every pair
on a 1,000-node graph.
"""
from __future__ import annotations

import copy
import math
from collections import defaultdict
from typing import Any

from engine.layout import SIZES, LayoutSizes
from engine.layout import auto_layout as _plain_layout

Design = dict[str, Any]


def inner_rows(g: Design, node: dict[str, Any]) -> int:
    """How many layer rows an instance's expanded card lists (its definition's nodes); 0 for another node."""
    d = (g.get("modules") or {}).get(node.get("op"))
    if not isinstance(d, dict):
        return 0
    return sum(1 for m in d.get("nodes", []) if isinstance(m, dict) and isinstance(m.get("id"), str))


def inner_height(rows: int, sizes: LayoutSizes = SIZES) -> float:
    """The height of an expanded instance's list of `rows` layers (what the card adds to `node_h`)."""
    return sizes.inner_head_h + rows * sizes.inner_row_h


def card_height(g: Design, node: dict[str, Any], sizes: LayoutSizes = SIZES) -> float:
    """The height the canvas gives a node's card: taller for a module instance drawn expanded."""
    if (node.get("ui") or {}).get("expanded") and isinstance((g.get("modules") or {}).get(node.get("op")), dict):
        return sizes.node_h + inner_height(inner_rows(g, node), sizes)
    return sizes.node_h


def card_rects(g: Design, sizes: LayoutSizes = SIZES) -> dict[str, tuple[float, float, float, float]]:
    """id -> (x, y, width, height) of every card with a position."""
    out = {}
    for n in g.get("nodes", []):
        ui = n.get("ui") or {}
        if _placed(ui):
            out[n["id"]] = (float(ui["x"]), float(ui["y"]), sizes.node_w, card_height(g, n, sizes))
    return out


def _placed(ui: dict[str, Any]) -> bool:
    return all(isinstance(ui.get(k), (int, float)) and math.isfinite(ui[k]) for k in ("x", "y"))


def reflow(before: Design, after: Design, sizes: LayoutSizes = SIZES, *, in_place: bool = False) -> Design:
    """`after` (a copy, or itself when `in_place`) with the cards below each card whose height changed since
    `before` moved to make room (or to close the gap), top to bottom."""
    old = {n["id"]: card_height(before, n, sizes) for n in before.get("nodes", [])}
    out = after if in_place else copy.deepcopy(after)
    changed = [(n["ui"]["y"], n["id"], old[n["id"]], card_height(out, n, sizes)) for n in out.get("nodes", [])
               if n["id"] in old and _placed(n.get("ui") or {}) and card_height(out, n, sizes) != old[n["id"]]]
    for _, nid, h0, h1 in sorted(changed):
        _resize(out, nid, h0, h1, sizes)
    return out


def _resize(g: Design, nid: str, h0: float, h1: float, sizes: LayoutSizes) -> None:
    """Move (in place) the cards below card `nid`, which was h0 tall and is now h1, as the module doc says."""
    w = sizes.node_w
    d = h1 - h0
    cards = [n for n in g["nodes"] if _placed(n.get("ui") or {})]
    heights = {n["id"]: (h1 if n["id"] == nid else card_height(g, n, sizes)) for n in cards}
    order = sorted(range(len(cards)), key=lambda i: (cards[i]["ui"]["y"], i))
    gap = sizes.layer_dy - sizes.node_h  # what a shrink leaves between a card and the one above it
    moving: dict[int, set[float]] = defaultdict(set)  # bucket -> x of the cards that moved (or grew)
    # bucket -> x -> (new bottom, bottom before) of the lowest card there so far
    bottoms: dict[int, dict[float, tuple[float, float]]] = defaultdict(dict)

    def near(x: float) -> list[tuple[int, float]]:
        b = math.floor(x / w)
        return [(k, x2) for k in (b - 1, b, b + 1) for x2 in set(moving[k]) | set(bottoms[k]) if abs(x2 - x) < w]

    def seen(x: float, bottom: float, was: float) -> None:
        col = bottoms[math.floor(x / w)]
        if x not in col or bottom > col[x][0]:
            col[x] = (bottom, was)

    for i in order:
        ui = cards[i]["ui"]
        x, y = float(ui["x"]), float(ui["y"])
        if cards[i]["id"] == nid:
            moving[math.floor(x / w)].add(x)
            seen(x, y + h1, y + h0)
            continue
        h = heights[cards[i]["id"]]
        around = near(x)
        y2 = y
        if any(x2 in moving[k] for k, x2 in around):
            if d > 0:
                y2 = y + d
            else:  # up by |d|, but not closer than `gap` (or than it is now) below a card it shares width with
                floor = max((nb + min(gap, max(0.0, y - was)) for k, x2 in around if x2 in bottoms[k]
                             for nb, was in [bottoms[k][x2]]), default=-math.inf)
                y2 = max(y + d, min(y, floor))
            ui["y"] = round(y2, 1)
            moving[math.floor(x / w)].add(x)
        seen(x, ui["y"] + h, y + h)


def auto_layout(g: Design, sizes: LayoutSizes = SIZES) -> Design:
    """engine.layout's auto-layout (every card `node_h` tall), then room made for the instances drawn expanded."""
    laid = _plain_layout(g, sizes)
    flat = copy.deepcopy(laid)
    for n in flat.get("nodes", []):
        (n.get("ui") or {}).pop("expanded", None)
    return reflow(flat, laid, sizes, in_place=True)
