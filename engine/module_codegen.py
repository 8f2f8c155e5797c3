"""Code export of a graph with modules: one nn.Module subclass per definition, used once per instance.

How a class is found: every instance is emitted as flat code first (each inner layer's constructor, as the
catalog writes it, for that instance's shapes). The constructors of all instances of a definition are then
compared argument by argument (`ast`): an argument that is the same everywhere stays a literal in the class;
one that differs becomes a parameter of the class's __init__, named after the module argument it follows
(`out_channels`), the module's input channels (`in_channels`), or the torch argument it fills (`stride`).
Instances whose code differs in form (another layer, another forward) get a class of their own. The flat
build's source is the header and the fallback, so the result is the same model as the flat graph.

The catalog writes constructors from concrete shapes (in_channels comes from shape inference), so deriving the
class parameters from what differs is what lets one class serve 64- and 128-channel blocks without the catalog
learning symbolic shapes.
"""
from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from engine.catalog import get_op
from engine.catalog.registry import EmitCtx
from engine.graph import Graph
from engine.modules import RESERVED, Flat, Instance, flatten, plain_identifier
from engine.shapes import Report
from engine.wiring import topo_order


@dataclass
class _Emitted:
    """One instance as code: per inner node (attr, constructor source or None, forward expression)."""

    inst: Instance
    lines: list[tuple[str, str | None, str]]
    ret: str
    sig: list[str]
    in_channels: Any = None


@dataclass
class _Class:
    name: str
    module: str
    members: list[_Emitted]
    params: list[str] = field(default_factory=list)
    calls: dict[str, str] = field(default_factory=dict)  # instance flat id -> constructor call
    source: str = ""


def _unsupported(flat: Flat, fr: Report) -> bool:
    for fid in flat.inner:
        n = fr.nodes.get(fid)
        if n is None:
            return True
        spec = get_op(n.op)
        if spec.ref_params or fr.normalised.get(fid, {}).get("stateful"):
            return True
    return False


def _call_parts(src: str) -> tuple[str, list[str], dict[str, str]] | None:
    try:
        call = ast.parse(src, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, ast.Call) or any(k.arg is None for k in call.keywords) or \
            any(isinstance(a, ast.Starred) for a in call.args):
        return None
    return ast.unparse(call.func), [ast.unparse(a) for a in call.args], {k.arg: ast.unparse(k.value) for k in
                                                                          call.keywords}


def _signature(func: str) -> dict[str, inspect.Parameter]:
    try:
        obj = eval(func, {"nn": nn, "torch": torch})  # noqa: S307 - func is catalog-written code, no user string
        return {k: v for k, v in inspect.signature(obj).parameters.items() if k != "self"}
    except Exception:  # not a torch callable (a class of the generated file): positional names stay generic
        return {}


def _arg_names(func: str, n: int) -> list[str]:
    names = list(_signature(func))
    return [names[i] if i < len(names) else f"arg{i}" for i in range(n)]


def _default(func: str, kw: str) -> str | None:
    """The source of a keyword's default (what the catalog's emitter leaves out), or None when unknown."""
    p = _signature(func).get(kw)
    if p is None or p.default is inspect.Parameter.empty:
        return None
    try:
        return repr(p.default) if ast.literal_eval(repr(p.default)) == p.default else None
    except (ValueError, SyntaxError):
        return None


def emit_with_modules(g: Graph, report: Report, class_name: str, namespace: Callable[[], Any],
                      flat_emit: Callable[[Graph, Report, str], str]) -> str:
    """The source of a graph with module instances (report: engine.check's, with .flat). `namespace` makes an
    identifier namespace (engine.codegen.Namespace); `flat_emit` writes flat source (engine.codegen's)."""
    flat = flatten(g)
    fr = report.flat
    flat_src = flat_emit(flat.graph, fr, class_name)
    if _unsupported(flat, fr):
        return flat_src  # layer references across a module boundary, recurrent state: exported flat
    try:
        return _emit(g, report, class_name, namespace, flat, fr, flat_src)
    except (ValueError, SyntaxError):  # an argument that is not a literal: the flat source is the same model
        return flat_src


def _emit(g: Graph, report: Report, class_name: str, namespace, flat: Flat, fr: Report, flat_src: str) -> str:
    # 1. every instance as code, innermost definitions first
    instances = flat.all_instances()
    call_of: dict[str, str] = {}
    used_names: set[str] = {class_name}
    ordered: list[_Class] = []
    for module in _inner_first(g):  # a definition after every definition it uses: their calls are known
        members = [_emit_instance(g, inst, fr, namespace, call_of) for inst in instances if inst.module == module]
        if members:
            for cls in _classes(module, members, used_names, g):
                call_of.update(cls.calls)
                ordered.append(cls)
    # order classes so that a class is defined before a class using it (innermost first already)
    # 2. the Net class: top-level nodes, instances as calls
    ns = namespace()
    var = {nid: ns.create_name(nid, nid) for nid in report.order}
    init_lines, fwd_lines = [], []
    inputs = []
    stages = _stages(g, report.order, set(flat.instances))
    member = {m: first for first, (_, ms) in stages.items() for m in ms}
    for first, (prefix, ms) in stages.items():
        stages[first] = (ns.create_name(prefix, f"\0stage\0{prefix}"), ms)
        var[ms[-1]] = stages[first][0]  # the stage's output is what its readers read
    for nid in report.order:
        n = g.node(nid)
        r = report.nodes[nid]
        args = [var[s] for s in n.inputs]
        if nid in stages:  # a run of instances named <stage>_0, <stage>_1, ...: one nn.Sequential, as torchvision
            name, ms = stages[nid]
            init_lines += [f"        self.{name} = nn.Sequential(",
                           *(f"            {call_of[flat.instances[m].id]}," for m in ms), "        )"]
            out = report.nodes[ms[-1]]
            fwd_lines.append(f"        {name} = self.{name}({', '.join(args)})  # {_shape(out.shape)}")
            continue
        if nid in member:
            continue
        if nid in flat.instances:
            inst = flat.instances[nid]
            init_lines.append(f"        self.{var[nid]} = {call_of[inst.id]}")
            fwd_lines.append(f"        {var[nid]} = self.{var[nid]}({', '.join(args)})  # {_shape(r.shape)}")
            continue
        if n.op == "Input":
            inputs.append(nid)
            continue
        spec = get_op(n.op)
        ctx = EmitCtx(p=fr.normalised[nid], in_shapes=r.in_shapes, out_shape=r.shape, attr=var[nid], args=args)
        ctor = spec.init(ctx)
        if ctor is not None:
            init_lines.append(f"        self.{var[nid]} = {ctor}")
        fwd_lines.append(f"        {var[nid]} = {spec.forward(ctx)}  # {_shape(r.shape)}")
    fwd_lines.append(f"        return {', '.join(var[o] for o in g.outputs)}")
    sig = ", ".join(["self"] + [var[i] for i in inputs])
    marker = f"class {class_name}(nn.Module):\n"
    head, rest = flat_src.split(marker, 1)
    tail = rest[rest.index("\n\ndef build():"):]
    net = [marker.rstrip("\n"), "    def __init__(self):", "        super().__init__()", *(init_lines or ["        pass"]),
           "", f"    def forward({sig}):", *fwd_lines, ""]
    return head + "".join(c.source + "\n\n\n" for c in ordered) + "\n".join(net) + tail


def _stages(g: Graph, order: list[str], instances: set[str]) -> dict[str, tuple[str, list[str]]]:
    """Runs of instances that read like torchvision's stages: ids <prefix>_0, <prefix>_1, ... in a chain (each
    reads only the one before, which nothing else reads) -> {first id: (prefix, member ids)}."""
    readers: dict[str, int] = {}
    for n in g.nodes:
        for src in n.inputs:
            readers[src] = readers.get(src, 0) + 1
    ids = {n.id for n in g.nodes}
    out: dict[str, tuple[str, list[str]]] = {}
    i = 0
    while i < len(order):
        m = re.fullmatch(r"(.+)_0", order[i])
        if not m or order[i] not in instances or m.group(1) in ids:
            i += 1
            continue
        prefix, run = m.group(1), [order[i]]
        while i + len(run) < len(order):
            nxt, prev = order[i + len(run)], run[-1]
            if (nxt != f"{prefix}_{len(run)}" or nxt not in instances or g.node(nxt).inputs != [prev]
                    or readers.get(prev) != 1 or prev in g.outputs):
                break
            run.append(nxt)
        if len(run) >= 2:
            out[run[0]] = (prefix, run)
        i += len(run)
    return out


def _inner_first(g: Graph) -> list[str]:
    """Definition names, each after the definitions its nodes use (flatten has refused recursion)."""
    out: list[str] = []
    def visit(name: str) -> None:
        if name in out:
            return
        for n in g.modules[name].nodes:
            if n.op in g.modules and n.op not in out and n.op != name:
                visit(n.op)
        out.append(name)
    for name in g.modules:
        visit(name)
    return out


def _shape(shape) -> str:
    return f"(B, {', '.join(str(s) for s in shape)})" if shape else "(B, ?)"


def _emit_instance(g: Graph, inst: Instance, fr: Report, namespace, call_of: dict[str, str]) -> _Emitted:
    d = g.modules[inst.module]
    ns = namespace()
    names = {i: ns.create_name(i, f"in\0{i}") for i in d.inputs}
    order = topo_order(_DefView(d))
    for nid in order:
        names[nid] = ns.create_name(nid, nid)
    lines = []
    for nid in order:
        m = next(x for x in d.nodes if x.id == nid)
        child = inst.children[nid]
        args = [names[s] for s in m.inputs]
        if isinstance(child, Instance):
            lines.append((names[nid], call_of[child.id], f"self.{names[nid]}({', '.join(args)})"))
            continue
        r = fr.nodes[child]
        ctx = EmitCtx(p=fr.normalised[child], in_shapes=r.in_shapes, out_shape=r.shape, attr=names[nid], args=args)
        spec = get_op(m.op)
        lines.append((names[nid], spec.init(ctx), spec.forward(ctx)))
    first = fr.nodes.get(inst.inputs[0]) if inst.inputs else None
    cin = first.shape[0] if first is not None and first.shape else None
    return _Emitted(inst, lines, names[d.outputs[0]], [names[i] for i in d.inputs], cin)


@dataclass
class _DefView:
    """A definition as engine.wiring's Graph protocol (its inputs are not nodes: references to them are ignored)."""

    d: Any

    @property
    def nodes(self):
        return self.d.nodes

    @property
    def outputs(self):
        return self.d.outputs


def _form(e: _Emitted) -> tuple:
    out = []
    for attr, ctor, fwd in e.lines:
        parts = _call_parts(ctor) if ctor else None
        if ctor and parts is None:
            out.append((attr, ctor, fwd))
        elif parts:  # keywords left at their default may be missing: they do not change the form
            out.append((attr, parts[0], len(parts[1]),
                        tuple(sorted(k for k in parts[2] if _default(parts[0], k) is None)), fwd))
        else:
            out.append((attr, None, fwd))
    return (tuple(out), e.ret, tuple(e.sig))


def _classes(module: str, members: list[_Emitted], used: set[str], g: Graph) -> list[_Class]:
    groups: dict[tuple, list[_Emitted]] = {}
    for e in members:
        groups.setdefault(_form(e), []).append(e)
    out = []
    for k, (_, es) in enumerate(sorted(groups.items(), key=lambda kv: -len(kv[1]))):
        if not plain_identifier(module) or module in RESERVED:  # engine.check refuses it first; never code
            raise ValueError(f"module name {module!r} is not a plain identifier")
        name = module if k == 0 else f"{module}_{k + 1}"
        while name in used:
            name += "_"
        used.add(name)
        out.append(_class(name, module, es, g))
    return out


def _class(name: str, module: str, es: list[_Emitted], g: Graph) -> _Class:
    d = g.modules[module]
    cls = _Class(name, module, es)
    arg_vec = {a: [repr(e.inst.args[a]) for e in es] for a in d.args}
    cin_vec = [repr(e.in_channels) for e in es]
    params: dict[str, list[str]] = {}  # class parameter -> its value (source) per instance
    body = []
    for i, (attr, ctor, _fwd) in enumerate(es[0].lines):
        if ctor is None:
            continue
        parts = [_call_parts(e.lines[i][1]) for e in es]
        if parts[0] is None or len(es) == 1:
            body.append(f"        self.{attr} = {ctor}")
            continue
        func, pos, kws = parts[0]
        names = _arg_names(func, len(pos))
        rendered_pos, rendered_kw = [], []
        for j in range(len(pos)):
            vec = [p[1][j] for p in parts]
            rendered_pos.append(_param(vec, names[j], attr, arg_vec, cin_vec, params))
        for kw in dict.fromkeys(k for p in parts for k in p[2]):
            vec = [p[2].get(kw) or _default(func, kw) for p in parts]
            rendered_kw.append(f"{kw}={_param(vec, kw, attr, arg_vec, cin_vec, params)}")
        body.append(f"        self.{attr} = {func}({', '.join(rendered_pos + rendered_kw)})")
    cls.params = (["in_channels"] if "in_channels" in params and "in_channels" not in d.args else []) + \
        [a for a in d.args if a in params] + [p for p in params if p not in d.args and p != "in_channels"]
    for j, e in enumerate(es):
        cls.calls[e.inst.id] = f"{name}({', '.join(f'{p}={params[p][j]}' for p in cls.params)})"
    doc = d.doc or f"Module {module}" + (f" ({len(es)} instances)." if len(es) > 1 else ".")
    doc = "".join(ch if ch.isprintable() and ch not in '"\\' else "?" for ch in doc)[:200]
    sig = ", ".join(["self", *cls.params])
    fwd = [f"        {attr} = {f}" for attr, _c, f in es[0].lines]
    lines = [f"class {name}(nn.Module):", f'    """{doc}"""', "", f"    def __init__({sig}):",
             "        super().__init__()", *(body or ["        pass"]), "",
             f"    def forward({', '.join(['self', *es[0].sig])}):", *fwd, f"        return {es[0].ret}"]
    cls.source = "\n".join(lines)
    return cls


def _pairless(src: str) -> Any:
    """A literal compared the way torch reads pair arguments: [3, 3], (3, 3) and 3 are one value."""
    try:
        v = ast.literal_eval(src)
    except (ValueError, SyntaxError):
        return src
    if isinstance(v, (list, tuple)):
        v = tuple(v)
        if len(v) == 2 and v[0] == v[1] and isinstance(v[0], int) and not isinstance(v[0], bool):
            return v[0]
    return v


def _param(vec: list[str], base: str, attr: str, arg_vec: dict[str, list[str]], cin_vec: list[str],
           params: dict[str, list[str]]) -> str:
    """The source of one constructor argument in the class: a literal when all instances agree, else the
    name of a class parameter (reused when another argument varies the same way)."""
    if all(v == vec[0] for v in vec):
        return vec[0]
    vals = [repr(ast.literal_eval(v)) for v in vec]
    same = [_pairless(v) for v in vals]
    for a, av in arg_vec.items():
        if [_pairless(v) for v in av] == same:  # kernel_size 3 in the graph is (3, 3) in the constructor
            params.setdefault(a, vals)
            return a
    if vals == cin_vec and base in ("in_channels", "num_features", "in_features", "arg0") and \
            params.get("in_channels", vals) == vals and "in_channels" not in arg_vec:
        params["in_channels"] = vals
        return "in_channels"
    for p, pv in params.items():
        if pv == vals and (p == base or p.endswith("_" + base)):
            return p
    name = base if base not in params else f"{attr}_{base}"
    while name in params or name in arg_vec or name == "self":
        name += "_"
    params[name] = vals
    return name


def layer_paths(g: Graph, report: Report, namespace) -> dict[str, str]:
    """Flat node id -> the module path of its layer in the exported class (`layer1.0.conv1`, `fire2.squeeze`), for
    a graph `emit_with_modules` writes with classes (callers check it did not fall back to the flat source).
    The names are asked of the namespaces in the order `_emit` and `_emit_instance` ask for them, so they are the
    names those functions write; tests/engine/test_template_weights.py compares them with the built model's."""
    flat = flatten(g)
    ns = namespace()
    var = {nid: ns.create_name(nid, nid) for nid in report.order}
    stages = _stages(g, report.order, set(flat.instances))
    where: dict[str, str] = {nid: var[nid] for nid in report.order}
    for _first, (prefix, ms) in stages.items():
        name = ns.create_name(prefix, f"\0stage\0{prefix}")
        where.update({m: f"{name}.{j}" for j, m in enumerate(ms)})
    out: dict[str, str] = {}

    def visit(inst: Instance, path: str) -> None:
        d = g.modules[inst.module]
        inner = namespace()
        for i in d.inputs:
            inner.create_name(i, f"in\0{i}")
        for nid in topo_order(_DefView(d)):
            child = inst.children[nid]
            attr = f"{path}.{inner.create_name(nid, nid)}"
            if isinstance(child, Instance):
                visit(child, attr)
            else:
                out[child] = attr
    for nid in report.order:
        if nid in flat.instances:
            visit(flat.instances[nid], where[nid])
        else:
            out[nid] = where[nid]
    return out
