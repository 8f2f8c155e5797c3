"""Where each layer of a design lives in the model `build_module` makes: flat node id -> module path.

A flat design's layers are attributes of the model (`self.conv1`: path `conv1`). A design with module instances
exports one class per definition (engine.module_codegen), so a layer inside an instance sits deeper: `layer1.0.conv1`
inside a stage, `fire2.squeeze` inside an instance of its own; its flat id is `<instance>.<inner>`
(engine.modules.flatten). When the export falls back to the flat source (engine.module_codegen says when), the
paths are the flat build's attribute names. Weight mapping (engine.fx.state_map) and the Inspect taps
(engine.visualise.layers) read layers through these paths.
"""
from __future__ import annotations

from typing import Any

from engine.codegen import Namespace, node_names, to_python
from engine.graph import load_graph
from engine.module_codegen import layer_paths
from engine.modules import flatten, uses_modules
from engine.shapes import check


def flat_layer_paths(g: Any) -> dict[str, str]:
    """Every flat node id -> the module path of its layer in build_module(g) (its state_dict key prefix); for a
    design without instances, node id -> attribute name."""
    g = load_graph(g)
    report = check(g)
    if not uses_modules(g):
        return node_names(g, report)
    flat = flatten(g)
    if report.flat is None or to_python(g) == to_python(flat.graph):  # exported flat (engine.module_codegen)
        return node_names(flat.graph, report.flat)
    return layer_paths(g, report, Namespace)


__all__ = ["flat_layer_paths"]
