"""The families ops belong to, as data: one order (the order a network is usually built in) and one colour each.

The canvas palette groups and colours its items by these, and docs/layers.md has one section per category in this
order, so both always agree. An op names its category by `name`; register_op refuses a name not listed here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    name: str
    colour: str  # the palette's and the canvas node's accent colour (CSS hex)


CATEGORIES: tuple[Category, ...] = (
    Category("Input/Output", "#475569"),
    Category("Convolution", "#2563eb"),
    Category("Pooling", "#0891b2"),
    Category("Activation", "#d97706"),
    Category("Normalisation", "#7c3aed"),
    Category("Dense", "#db2777"),
    Category("Reshape", "#64748b"),
    Category("Merge", "#16a34a"),
    Category("Regularisation", "#ea580c"),
    Category("Unpooling", "#0d9488"),
    Category("Recurrent", "#9333ea"),
    Category("Energy-based", "#be123c"),
    Category("Detection", "#b91c1c"),
    # not an op category: the palette's group of composite blocks (engine.blocks), always last
    Category("Blocks", "#0f766e"),
)
BLOCKS = "Blocks"

_BY_NAME = {c.name: c for c in CATEGORIES}


def get_category(name: str) -> Category:
    """The category called `name`; KeyError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown category {name!r}. Known: {', '.join(_BY_NAME)}.") from None


def category_names() -> list[str]:
    """Every category's name, in palette and docs order."""
    return [c.name for c in CATEGORIES]
