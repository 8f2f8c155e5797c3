"""python -m engine docs [--check]: docs/layers.md from the catalog and docs/graph.schema.json from the graph model.

The catalog is the single source of truth; this file only formats it. A test asserts the committed
docs/layers.md equals `render()`, so the reference never drifts from the code.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.atomic import atomic_write_text
from engine.blocks import list_blocks
from engine.catalog import get_op, list_ops
from engine.catalog.categories import category_names
from engine.catalog.registry import OpSpec, Param

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "layers.md"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        return f"`{v!r}`" if v else "—"
    return f"`{json.dumps(list(v) if isinstance(v, tuple) else v)}`"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _range(p: Param) -> str:
    parts = []
    if p.min is not None or p.max is not None:
        lo = _num(p.min) if p.min is not None else "−∞"
        hi = _num(p.max) if p.max is not None else "∞"
        parts.append(f"{lo} … {hi}")
    if p.choices:
        label = "or" if p.type in ("padding",) else "one of"
        parts.append(f"{label} {', '.join(_value(c) for c in p.choices)}")
    if p.optional:
        parts.append("may be empty")
    return "; ".join(parts) or "—"


def _op_section(spec: OpSpec) -> list[str]:
    lines = [f"### {spec.name}", "", spec.doc, "", f"Inputs: {spec.arity_text()}"
             + (f" ({', '.join(spec.input_names)})" if spec.input_names else "") + ".", ""]
    if not spec.params:
        return lines + ["No parameters.", ""]
    lines += ["| parameter | type | default | range | help |", "|---|---|---|---|---|"]
    for p in spec.params:
        lines.append(f"| `{p.name}` | {p.type} | {_cell(_value(p.default))} | {_cell(_range(p))} | {_cell(p.help)} |")
    return lines + [""]


def _categories() -> list[str]:
    """The categories that have ops, in the catalog's order (the palette's too); register_op refuses any other."""
    found = {get_op(n).category for n in list_ops()}
    return [c for c in category_names() if c in found]


def render() -> str:
    ops = list_ops()
    cats = _categories()
    lines = ["# Layer reference", "",
             "<!-- Generated from the catalog by `python -m engine docs`; do not edit by hand. -->", "",
             f"{len(ops)} ops. Shapes exclude the batch dimension: C×H×W for images, T×F for sequences, F for "
             "vectors. Parameter names follow torch.nn; input-side sizes (in_channels, in_features, input_size) are "
             "never parameters: the shape check supplies them.", "",
             "| op | category | inputs |", "|---|---|---|"]
    for cat in cats:
        for name in ops:
            spec = get_op(name)
            if spec.category == cat:
                lines.append(f"| [{name}](#{name.lower()}) | {cat} | {spec.arity_text()} |")
    lines.append("")
    for cat in cats:
        lines += [f"## {cat}", ""]
        for name in ops:
            if get_op(name).category == cat:
                lines += _op_section(get_op(name))
    lines += ["## Composite blocks", "",
              "Graph snippets of the ops above that the palette inserts (`engine.blocks.make_block`); they are not "
              "ops.", ""]
    for b in list_blocks():
        lines += [f"### {b['title']}", "", f"Name: `{b['name']}`.", "",
                  "| parameter | type | default | range | help |", "|---|---|---|---|---|"]
        for p in b["params"]:
            lines.append(f"| `{p.name}` | {p.type} | {_cell(_value(p.default))} | {_cell(_range(p))} | "
                         f"{_cell(p.help)} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def write(path: Path = DOC_PATH) -> None:
    atomic_write_text(path, render(), durable=False)


SCHEMA_PATH = DOC_PATH.parent / "graph.schema.json"


def add_parser(sub) -> None:
    p = sub.add_parser("docs", help="regenerate docs/layers.md and docs/graph.schema.json (or --check them)")
    p.add_argument("--check", action="store_true", help="exit 1 if a committed file differs from the code")
    p.add_argument("--out-dir", type=Path, default=DOC_PATH.parent, help="the folder to write into (default docs/)")
    p.set_defaults(func=run)


def generated(folder: Path = DOC_PATH.parent) -> dict[Path, str]:
    """Every generated reference file and what it must contain."""
    from engine.graph import schema_text

    return {folder / DOC_PATH.name: render(), folder / SCHEMA_PATH.name: schema_text()}


def run(args) -> int:
    stale = []
    for path, text in generated(args.out_dir).items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale.append(path.name)
        else:
            atomic_write_text(path, text, durable=False)
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m engine docs", file=sys.stderr)
        return 1
    return 0
