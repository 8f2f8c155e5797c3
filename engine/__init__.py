"""Convas engine: the layer catalog, the graph file, shape inference, compile/export, import, training, vis.

Pure Python + torch; never imports streamlit. The public API:

    g = engine.load_graph("design.json")   # or a dict; raises GraphError listing every problem
    r = engine.check(g)                     # Report: r.ok, r.errors, r.nodes[id].shape/params/macs/error
    m = engine.build_module(g)              # torch.nn.Module, built from the same source to_python returns
    src = engine.to_python(g)
"""
from engine.codegen import build_module, to_python
from engine.errors import GraphError, Issue, ShapeError
from engine.graph import Graph, Node, Task, load_graph, save_graph
from engine.shapes import NodeReport, Report, check

__all__ = ["Graph", "GraphError", "Issue", "Node", "NodeReport", "Report", "ShapeError", "Task", "build_module",
           "check", "load_graph", "save_graph", "to_python"]
