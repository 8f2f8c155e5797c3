"""What the canvas palette offers: every catalog op grouped by category, the composite blocks, their colours,
and the op-based ids new nodes get (conv1, conv2, …).

All of it is data read from the catalog: the categories' order and colours from engine.catalog.categories (the
docs use the same order), each op's id stem from its spec (OpSpec.id_prefix), the blocks from engine.blocks. A new
op shows up in the palette with no change here.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from engine.catalog import catalog_dict
from engine.catalog.categories import BLOCKS, category_names, get_category
from engine.catalog.registry import default_id_prefix


@cache
def catalog() -> dict[str, dict[str, Any]]:
    """The catalog as data, built once: it does not change while the app runs. Read only."""
    return catalog_dict()


def op_spec(op: str) -> dict[str, Any] | None:
    return catalog().get(op)


@cache
def ref_params(op: str) -> tuple[str, ...]:
    """Params of this op that name another node (MaxUnpool2d's pool)."""
    spec = op_spec(op)
    return tuple(p["name"] for p in spec["params"] if p["type"] == "node") if spec else ()


def colour(category: str) -> str:
    return get_category(category).colour


def id_prefix(op: str) -> str:
    """'Conv2d' -> 'conv', 'LeakyReLU' -> 'leakyrelu': a readable identifier stem for new nodes of this op."""
    spec = op_spec(op)
    return spec["id_prefix"] if spec else default_id_prefix(op)


def new_node_id(op: str, taken: set[str] | list[str]) -> str:
    """The first free id `<prefix><n>` for n = 1, 2, … (conv1, conv2…), never one already in `taken`."""
    taken = set(taken)
    stem = id_prefix(op)
    n = 1
    while f"{stem}{n}" in taken:
        n += 1
    return f"{stem}{n}"


def _blocks() -> list[dict[str, Any]]:
    """The composite blocks engine.blocks offers, as palette items (empty when that module is missing)."""
    try:
        from engine import blocks
    except ImportError:
        return []
    items = []
    for b in blocks.list_blocks():
        info = b if isinstance(b, dict) else {"name": str(b)}
        name = info.get("name") or info.get("id")
        title = info.get("title", name)
        knobs = ", ".join(f"{p.name} {p.default}" for p in info.get("params", []) if hasattr(p, "name"))
        doc = info.get("doc") or f"{title}: a wired group of catalog layers." + (f" Defaults: {knobs}." if knobs else "")
        items.append({"kind": "block", "name": name, "title": title, "doc": doc, "prefix": info.get("prefix", "")})
    return items


# The ops a first network is made of, in the order it uses them: the palette shows them first, above the fold,
# under the search box (they stay in their own categories below too). A beginner's MNIST net needs only these.
COMMON = ("Input", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "BatchNorm2d", "Dropout")
COMMON_GROUP = "Most used"


@cache
def palette() -> list[dict[str, Any]]:
    """[{category, colour, items: [{kind: 'op'|'block', name, title, doc, prefix}], pinned?}] in palette order: the
    most-used ops first (pinned: true; each item with its category's colour), then every category."""
    groups: dict[str, list[dict[str, Any]]] = {}
    items: dict[str, dict[str, Any]] = {}
    for name, spec in catalog().items():
        items[name] = {"kind": "op", "name": name, "title": name, "doc": spec["doc"], "prefix": id_prefix(name)}
        groups.setdefault(spec["category"], []).append(items[name])
    pinned = [{**items[n], "colour": colour(catalog()[n]["category"])} for n in COMMON if n in items]
    out = [{"category": COMMON_GROUP, "colour": "#334155", "pinned": True, "items": pinned}]  # items: own colours
    out += [{"category": c, "colour": colour(c), "items": groups[c]} for c in category_names() if c in groups]
    blocks = _blocks()
    if blocks:
        out.append({"category": BLOCKS, "colour": colour(BLOCKS), "items": blocks})
    return out


@cache
def op_table() -> dict[str, dict[str, Any]]:
    """Per op, what the canvas needs to draw a node: category colour and its ports (arity, names, node refs)."""
    table = {}
    for name, spec in catalog().items():
        table[name] = {
            "category": spec["category"], "colour": colour(spec["category"]),
            "min_inputs": spec["min_inputs"], "max_inputs": spec["max_inputs"],
            "input_names": spec["input_names"],
            "refs": [p["name"] for p in spec["params"] if p["type"] == "node"],
        }
    return table
