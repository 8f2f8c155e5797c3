"""Compile = export: `to_python` writes a readable standalone module, `build_module` runs that same source.

User strings reach the source only as checked identifiers (the Namespace below) or as repr()'d literals, so the
exported file is by construction the model that trained, and no node id can inject code.
"""
from __future__ import annotations

import builtins
import keyword
import linecache
import re
import unicodedata

import torch.nn as nn

from engine.catalog import get_op
from engine.catalog.arith import fmt_shape
from engine.catalog.registry import EmitCtx
from engine.detect.export import NAMES as BOX_NAMES
from engine.detect.export import box_task_code
from engine.errors import GraphError, Issue
from engine.graph import Graph
from engine.module_codegen import emit_with_modules
from engine.shapes import Report, check, checked

# Names the generated file itself uses, and attributes build_module sets on the model.
# torchvision: imported by ops that emit its layers; RBM: an op's module-level class; reset_state, carry_state,
# carried: what a model with stateful recurrent layers has
_RESERVED = {"self", "torch", "nn", "F", "Net", "super", "build", "convas_source", "torchvision", "RBM",
             "reset_state", "carry_state", "carried"} | BOX_NAMES  # BOX_NAMES: a detector's decode()/postprocess()
# Everything an nn.Module has, including what Module.__init__ sets on the instance (`training`): a layer named
# `training` would turn model.eval() into "cannot assign 'bool' as child module".
_MODULE_ATTRS = set(dir(nn.Module)) | set(vars(nn.Module()))


_MAX_NAME = 60  # long ids are cut: a readable file, and names stay unique through the collision suffix


class Namespace:
    """Maps arbitrary strings to Python identifiers.

    Invariants: one name per object (asking again returns the same name); names are unique; every name is an
    ASCII identifier that is not a keyword, not a builtin, not an nn.Module attribute and not one of the
    module-level names the generated file uses (torch, nn, F, Net, self).

    Sanitising, step by step: accents dropped (café → cafe), every run of other characters → `_`, outer `_`
    stripped (no dunder, no private name), empty → `node`, leading digit → `_` prefix, a reserved word gets a `_`
    suffix, a collision gets `_1`, `_2`, ... in the order names are asked for.
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._used: set[str] = set()

    def create_name(self, candidate: str, obj: str) -> str:
        if obj in self._names:
            return self._names[obj]
        name = unicodedata.normalize("NFKD", candidate).encode("ascii", "ignore").decode()
        name = re.sub(r"[^0-9a-zA-Z_]+", "_", name).strip("_")[:_MAX_NAME] or "node"
        if name[0].isdigit():
            name = f"_{name}"
        if (keyword.iskeyword(name) or keyword.issoftkeyword(name) or hasattr(builtins, name)
                or name in _MODULE_ATTRS or name in _RESERVED):
            name = f"{name}_"
        base, i = name, 1
        while name in self._used:
            name = f"{base}_{i}"
            i += 1
        self._used.add(name)
        self._names[obj] = name
        return name


def _check_class_name(name: str) -> None:
    if (not isinstance(name, str) or not name.isidentifier() or not name.isascii() or keyword.iskeyword(name)
            or name in _RESERVED - {"Net"} or hasattr(builtins, name)):
        raise ValueError(f"class_name must be a plain Python identifier such as 'Net'. Received: class_name={name!r}.")


def _shape_comment(shape: tuple[int, ...]) -> str:
    return f"(B, {', '.join(str(s) for s in shape)})"


def to_python(source, class_name: str = "Net") -> str:
    """The graph as readable, standalone PyTorch source. Same graph -> byte-identical source."""
    _check_class_name(class_name)
    g, report = checked(source)
    if report.flat is not None:  # module instances: one class per definition (engine.module_codegen)
        return emit_with_modules(g, report, class_name, Namespace, _emit)
    return _emit(g, report, class_name)


def node_names(g: Graph, report: Report | None = None) -> dict[str, str]:
    """Node id -> the Python name to_python gives it (the forward variable and the self.<attr> of its layer)."""
    return _names(report or check(g))[1]


def _names(report: Report) -> tuple[Namespace, dict[str, str]]:
    ns = Namespace()
    return ns, {nid: ns.create_name(nid, nid) for nid in report.order}


def _emit(g: Graph, report: Report, class_name: str) -> str:
    ns, var = _names(report)
    nodes = {n.id: n for n in g.nodes}
    # MaxPool2d nodes whose indices an unpool uses compute them (return_indices=True)
    wants_indices = {}
    for n in g.nodes:
        spec = get_op(n.op)
        for name in spec.ref_params:
            pool = report.normalised[n.id][name]
            wants_indices[pool] = ns.create_name(f"{var[pool]}_indices", f"{pool}\0indices")
    # recurrent layers with stateful=True keep their state in self.carried[<their name>] between forward calls
    states = {nid: var[nid] for nid in report.order if report.normalised[nid].get("stateful")}
    inputs = [nid for nid in report.order if nodes[nid].op == "Input"]
    init_lines: list[str] = []
    fwd_lines: list[str] = []
    for nid in report.order:
        n, r = nodes[nid], report.nodes[nid]
        spec = get_op(n.op)
        p = report.normalised[nid]
        args = [var[s] for s in n.inputs]
        extras = {}
        if nid in wants_indices:
            extras["return_indices"] = True
        if nid in states:
            extras["state"] = states[nid]
        for name in spec.ref_params:
            extras["indices"] = wants_indices[p[name]]
            extras["ref"] = var[p[name]]
        ctx = EmitCtx(p=p, in_shapes=r.in_shapes, out_shape=r.shape, attr=var[nid], args=args, extras=extras)
        if n.op == "Input":
            continue
        ctor = spec.init(ctx)
        if ctor is not None:
            init_lines.append(f"        self.{var[nid]} = {ctor}")
        target = var[nid] + (f", {wants_indices[nid]}" if nid in wants_indices else "")
        fwd_lines.append(f"        {target} = {spec.forward(ctx)}  # {_shape_comment(r.shape)}")
    outs = [var[o] for o in g.outputs]
    fwd_lines.append(f"        return {', '.join(outs)}")
    sig = ", ".join(["self"] + [var[i] for i in inputs])
    in_doc = ", ".join(f"{var[i]}: {_shape_comment(report.nodes[i].shape)}" for i in inputs)
    box_imports, box_lines = box_task_code(g.task.kind if g.task else None,
                                           report.nodes[inputs[0]].shape if len(inputs) == 1 else None)
    header = [
        f'"""{_doc_literal(g.name)} — generated by Convas from a graph file.',
        "",
        f"Inputs: {in_doc}. Parameters: {report.total_params:,}.",
        '"""',
        "import torch",
        "from torch import nn",
        "import torch.nn.functional as F",
        *sorted({f"import {m}" for n in g.nodes for m in get_op(n.op).imports} | set(box_imports)),
        "",
        "",
    ]
    for src in dict.fromkeys(get_op(nodes[nid].op).module_source for nid in report.order):  # once each, in order
        if src:
            header += src.rstrip("\n").splitlines() + ["", ""]
    header += [
        f"class {class_name}(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    if states:
        init_lines.append("        self.carried = {}  # the recurrent state carried from batch to batch, by layer")
    body = init_lines or ["        pass"]
    fwd = ["", f"    def forward({sig}):"] + fwd_lines + (_STATE_METHODS if states else [])
    footer = ["", "", "def build():", f'    """A fresh {class_name} with random weights."""', f"    return {class_name}()", ""]
    return "\n".join(header + body + fwd + footer + box_lines[1:])


# the methods of a model with stateful recurrent layers
_STATE_METHODS = [
    "",
    "    def reset_state(self):",
    '        """Forget the recurrent state carried between batches (at the start of a pass over the data)."""',
    "        self.carried = {}",
    "",
    "    def carry_state(self, rnn, name, x):",
    '        """Run rnn on x from the state the previous batch left, detached (gradients stop at the batch',
    "        boundary: truncated backpropagation through time), and keep its new state for the next batch.",
    '        A batch of another size starts from zero."""',
    "        state = self.carried.get(name)",
    "        if state is not None:",
    "            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()",
    "            if (state[0] if isinstance(state, tuple) else state).shape[1] != x.shape[0]:",
    "                state = None",
    "        out, state = rnn(x, state)",
    "        self.carried[name] = state",
    "        return out, state"]


def _doc_literal(text: str) -> str:
    """The design's name inside the module docstring: printable, no quotes or backslashes that could end it."""
    clean = "".join(ch if ch.isprintable() and ch not in '"\\' else "?" for ch in text)
    return clean[:120] or "untitled"


def build_module(source, class_name: str = "Net") -> nn.Module:
    """Build the nn.Module by running exactly the source `to_python` exports."""
    src = to_python(source, class_name)
    filename = f"<convas:{class_name}:{abs(hash(src)):x}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)  # readable tracebacks
    namespace: dict = {"__name__": "convas_generated"}
    exec(compile(src, filename, "exec"), namespace)  # noqa: S102 - src holds no user string as code
    model = namespace[class_name]()
    model.convas_source = src
    return model


__all__ = ["Namespace", "build_module", "node_names", "to_python", "GraphError", "Issue", "fmt_shape"]
