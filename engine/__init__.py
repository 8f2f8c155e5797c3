"""Convas engine: the layer catalog, the graph file, shape inference, compile/export, import, training, vis.

Pure Python + torch; never imports streamlit. The public API:

    g = engine.load_graph("design.json")   # or a dict; raises GraphError listing every problem
    r = engine.check(g)                     # Report: r.ok, r.errors, r.nodes[id].shape/params/macs/error
    m = engine.build_module(g)              # torch.nn.Module, built from the same source to_python returns
    src = engine.to_python(g)
    g2 = engine.import_model("torchvision:resnet18", input_shape=(3, 224, 224))   # or an nn.Module
    d = engine.diff(a, b)                   # what changed from design a to b; engine.apply_change(a, d.changes[0])
"""
from engine.codegen import build_module, to_python
from engine.diff import apply_change, diff
from engine.errors import GraphError, Issue, ShapeError
from engine.fx.importer import ImportModelError, import_model
from engine.graph import Graph, Node, Task, load_graph, save_graph
from engine.shapes import NodeReport, Report, check

__all__ = ["Graph", "GraphError", "ImportModelError", "Issue", "Node", "NodeReport", "Report", "ShapeError", "Task", "apply_change", "build_module",
           "check", "diff", "import_model", "load_graph", "save_graph", "to_python"]
