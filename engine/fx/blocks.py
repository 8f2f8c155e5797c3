"""An imported graph's blocks as module instances (import_model(..., modules=True)).

The builder records, on every node, the outermost enclosing submodule that has a forward of its own (`ui.group`,
from torch.fx's nn_module_stack). Each such block becomes an instance; blocks of the same class share a
definition named after the class (`BasicBlock`, `_DenseBlock` -> `DenseBlock`), whose arguments are the params
that differ between them (engine.module_edit.extract_modules). The model is unchanged: the parameter count and
every shape are checked against the flat import.
"""
from __future__ import annotations

import torch.nn as nn

from engine.graph import Graph, load_graph
from engine.module_edit import ModuleEditError, extract_modules
from engine.modules import RESERVED, plain_identifier
from engine.shapes import check


class BlockImportError(ValueError):
    """The blocks could not become modules (a block with two exits); the flat import is still valid."""


def _class_name(root: nn.Module, path: str) -> str:
    try:
        name = type(root.get_submodule(path)).__name__.lstrip("_")
    except AttributeError:
        name = ""
    name = name[:1].upper() + name[1:]
    return name if plain_identifier(name) and name not in RESERVED else "Block"


def as_modules(g: Graph, root: nn.Module, label: str) -> Graph:
    """The flat import `g` with its blocks as module instances (see the module docstring)."""
    d = g.to_dict()
    groups: dict[str, tuple[str, list[str]]] = {}
    paths: dict[str, str] = {}
    for n in d["nodes"]:
        path = (n.get("ui") or {}).get("group")
        if path:
            iid = path.replace(".", "_")
            paths.setdefault(iid, path)
            groups.setdefault(iid, (_class_name(root, path), []))[1].append(n["id"])
    if not groups:
        return g
    try:
        modular = load_graph(extract_modules(d, groups))
    except ModuleEditError as e:
        raise BlockImportError(f"cannot import {label} with modules: {e}") from e
    before, after = check(g), check(modular)
    if not after.ok or after.total_params != before.total_params or \
            after.nodes[modular.outputs[0]].shape != before.nodes[g.outputs[0]].shape:
        raise BlockImportError(f"cannot import {label} with modules: the modular graph differs from the flat one "
                               f"(an importer bug).")
    return modular
