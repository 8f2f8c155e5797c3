"""What the canvas palette offers: every catalog op grouped by category, the composite blocks, their colours,
and the op-based ids new nodes get (conv1, conv2, …).

All of it is data read from the catalog (engine.catalog) and engine.blocks, so a new op shows up in the palette
with no change here; only its colour falls back to grey until its category is named below.
"""
from __future__ import annotations

import re
from functools import cache
from typing import Any

from engine.catalog import catalog_dict

# Category order in the palette (the order a network is usually built in) and one colour per family.
CATEGORY_COLOURS: dict[str, str] = {
    "Input/Output": "#475569",
    "Convolution": "#2563eb",
    "Pooling": "#0891b2",
    "Activation": "#d97706",
    "Normalisation": "#7c3aed",
    "Dense": "#db2777",
    "Reshape": "#64748b",
    "Merge": "#16a34a",
    "Regularisation": "#ea580c",
    "Unpooling": "#0d9488",
    "Recurrent": "#9333ea",
    "Blocks": "#0f766e",
}
OTHER_COLOUR = "#6b7280"

# Short id stems for ops whose lower-cased name would make a clumsy id.
ID_PREFIX: dict[str, str] = {
    "Input": "input", "Conv2d": "conv", "ConvTranspose2d": "deconv", "Linear": "fc", "Flatten": "flat",
    "MaxPool2d": "pool", "AvgPool2d": "avgpool", "GlobalAvgPool2d": "gap", "GlobalMaxPool2d": "gmp",
    "AdaptiveAvgPool2d": "avgpool", "AdaptiveMaxPool2d": "maxpool", "BatchNorm1d": "bn", "BatchNorm2d": "bn",
    "LayerNorm": "ln", "LocalResponseNorm": "lrn", "Dropout": "drop", "Dropout2d": "drop", "Concat": "cat",
    "Multiply": "mul", "MaxUnpool2d": "unpool", "BedOfNailsUnpool2d": "unpool", "NearestUnpool2d": "unpool",
    "Upsample": "up", "ZeroPad2d": "pad", "ToSequence": "seq", "Embedding": "embed",
}


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
    return CATEGORY_COLOURS.get(category, OTHER_COLOUR)


def id_prefix(op: str) -> str:
    """'Conv2d' -> 'conv', 'LeakyReLU' -> 'leakyrelu': a readable identifier stem for new nodes of this op."""
    if op in ID_PREFIX:
        return ID_PREFIX[op]
    stem = re.sub(r"[^a-z0-9_]", "", op.lower())
    stem = re.sub(r"[0-9]+d$", "", stem) or "node"
    return stem if not stem[0].isdigit() else f"n{stem}"


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


@cache
def palette() -> list[dict[str, Any]]:
    """[{category, colour, items: [{kind: 'op'|'block', name, title, doc, prefix}]}] in palette order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, spec in catalog().items():
        groups.setdefault(spec["category"], []).append(
            {"kind": "op", "name": name, "title": name, "doc": spec["doc"], "prefix": id_prefix(name)})
    order = [c for c in CATEGORY_COLOURS if c in groups] + sorted(c for c in groups if c not in CATEGORY_COLOURS)
    out = [{"category": c, "colour": colour(c), "items": groups[c]} for c in order]
    blocks = _blocks()
    if blocks:
        out.append({"category": "Blocks", "colour": colour("Blocks"), "items": blocks})
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
