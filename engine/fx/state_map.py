"""Source weights onto a graph with module instances: where each flat layer came from, and where it lives in the
built model.

A node inside a definition is shared by every instance, so it cannot name its source module: it names its path
inside the block ("source: conv1", "source: downsample.0") and the instance names the block ("source: layer2.0").
`flat_sources` composes them along the instance nesting (layer2.0 + downsample.0 -> layer2.0.downsample.0);
engine.layer_paths gives each flat layer's name in `build_module(g)` (`layer2.0.downsample_0`).
engine.fx.importer.map_state_dict uses both; scripts/make_templates.py writes the comments.
"""
from __future__ import annotations

from typing import Any

from engine.fx.builder import SOURCE_PREFIX
from engine.modules import Instance, flatten


def _source(node: Any) -> str | None:
    comment = node.ui.comment if node.ui else None
    if comment and comment.startswith(SOURCE_PREFIX):
        return comment[len(SOURCE_PREFIX):].strip()
    return None


def flat_sources(g: Any) -> dict[str, str]:
    """Flat node id -> the source module path it was imported from, for every flat node whose source is known:
    a top-level node's own path, an inner node's path inside its instance appended to the instance's path. An
    instance without a source, or an inner node without one (a traced function), maps nothing."""
    flat = flatten(g)
    out = {n.id: s for n in g.nodes if n.id not in flat.instances and (s := _source(n))}

    def visit(inst: Instance, path: str) -> None:
        inner = {m.id: m for m in g.modules[inst.module].nodes}
        for nid, child in inst.children.items():
            rel = _source(inner[nid])
            if rel is None:
                continue
            if isinstance(child, Instance):
                visit(child, f"{path}.{rel}")
            else:
                out[child] = f"{path}.{rel}"
    for n in g.nodes:
        if n.id in flat.instances and (path := _source(n)):
            visit(flat.instances[n.id], path)
    return out


__all__ = ["flat_sources"]
