"""Modules (graph format version 2): named sub-graphs used by instance nodes, and their flattening.

A graph's `modules` section maps a definition name (`BasicBlock`) to a sub-graph with its own `inputs` (names the
inner nodes read, like an Input), `nodes`, one `output`, and `args` (name -> default) that inner params use as
the string "$name". A top-level (or inner) node whose `op` is a definition name is an instance: its `params`
are the argument values, its `inputs` feed the definition's inputs in order, and other nodes read its output
by its id. Definitions may use other definitions (no recursion). See docs/modules.md.

Everything that computes (shape checking, compile, training) works on the flat graph `flatten` returns: every
instance inlined, inner node ids prefixed with the instance path (`layer1_0.conv1`). `Flat` keeps the way back
(flat id -> instance and inner node), so a problem inside an instance is shown on the instance node and names
the inner node.

This module reads graphs structurally (engine.graph imports it): new nodes and graphs are pydantic
`model_copy`s of the given ones, so it never imports engine.graph.
"""
from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass, field
from typing import Any

from engine.catalog import has_op
from engine.catalog.registry import _closest
from engine.errors import Issue
from engine.limits import MAX_NODES
from engine.wiring import ref_params

SEP = "."  # flat id = instance path + SEP + inner id (torch's module path style)
MAX_MODULE_DEPTH = 16  # definitions inside definitions; a real network needs 2 or 3


@dataclass
class Instance:
    """One instance as flattened: its definition, resolved argument values, and what each inner id became
    (a flat node id, or a nested Instance)."""

    id: str  # the flat path of the instance itself (top level: its node id)
    module: str
    args: dict[str, Any]
    inputs: list[str]  # flat ids feeding the definition's inputs, in order
    output: str | None  # the flat id of the instance's output (None when the definition is broken)
    children: dict[str, str | Instance] = field(default_factory=dict)  # inner id -> flat id or nested Instance


@dataclass
class Flat:
    graph: Any  # the flat engine.graph.Graph (no instances, no modules)
    instances: dict[str, Instance]  # top-level instance id -> Instance
    owner: dict[str, str]  # flat id -> the top-level node id it belongs to (an instance id or itself)
    inner: dict[str, str]  # flat id inside an instance -> its path inside the top-level instance ('conv1', 'b.c')
    issues: list[Issue]  # problems of definitions and instance arguments, named at the top-level node
    alias: dict[str, str]  # top-level instance id -> flat id of its output
    unresolved: set[str] = field(default_factory=set)  # flat ids of instances whose definition is broken

    def all_instances(self) -> list[Instance]:
        out: list[Instance] = []
        todo = list(self.instances.values())
        while todo:
            inst = todo.pop(0)
            out.append(inst)
            todo.extend(c for c in inst.children.values() if isinstance(c, Instance))
        return out


# names the exported file defines or imports; a module (a class there) cannot take one of them
RESERVED = frozenset({"Net", "nn", "torch", "F", "torchvision", "build", "super", "self", "RBM", "Module"})


def plain_identifier(name: str) -> bool:
    """An ASCII Python identifier that is neither a keyword nor a builtin (safe as a class or parameter name)."""
    return (isinstance(name, str) and name.isascii() and name.isidentifier() and not keyword.iskeyword(name)
            and not keyword.issoftkeyword(name) and not hasattr(builtins, name))


def is_instance(g: Any, op: str) -> bool:
    return bool(getattr(g, "modules", None)) and op in g.modules and not has_op(op)


def uses_modules(g: Any) -> bool:
    return bool(getattr(g, "modules", None)) and any(is_instance(g, n.op) for n in g.nodes)


def arg_refs(value: Any) -> list[str]:
    """Argument names a param value refers to ("$name", also inside lists)."""
    if isinstance(value, str) and value.startswith("$"):
        return [value[1:]]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in arg_refs(v)]
    return []


def substitute(value: Any, args: dict[str, Any]) -> Any:
    """The param value with every "$name" replaced by the argument's value (KeyError on an unknown name)."""
    if isinstance(value, str) and value.startswith("$"):
        return args[value[1:]]
    if isinstance(value, list):
        return [substitute(v, args) for v in value]
    return value


def resolve_args(g: Any, module: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(argument values of an instance: its params over the definition's defaults, problems as messages)."""
    d = g.modules[module]
    problems = []
    for k in params:
        if k not in d.args:
            hint = _closest(k, list(d.args))
            problems.append(f"{module} has no argument '{k}'." + (f" Did you mean '{hint}'?" if hint else "")
                            + f" Its arguments: {', '.join(d.args) or 'none'}.")
    return {k: params.get(k, default) for k, default in d.args.items()}, problems


def definition_issues(g: Any, name: str) -> list[str]:
    """Problems of one definition on its own (as messages naming the inner node), whether or not it is used."""
    d = g.modules[name]
    out: list[str] = []
    if has_op(name):
        out.append(f"module name '{name}' is a catalog op. Rename the module (e.g. '{name}Block').")
    if not plain_identifier(name) or name in RESERVED:
        out.append(f"module name {name!r} must be a plain Python identifier such as 'BasicBlock' (letters, digits "
                   f"and _, not a Python keyword or a name the exported file uses: {', '.join(sorted(RESERVED))}).")
    for a in d.args:
        if not plain_identifier(a) or a in RESERVED or a in ("F", "nn", "torch"):
            out.append(f"module {name}: argument name {a!r} must be a plain Python identifier such as 'channels'.")
    ids = [n.id for n in d.nodes]
    names = set(ids) | set(d.inputs)
    if len(d.outputs) != 1:
        out.append(f"module {name} must have exactly one output. Received: {d.outputs}.")
    for o in d.outputs:
        if o not in names:
            out.append(f"module {name}: output '{o}' is not one of its nodes or inputs.")
    if not d.inputs:
        out.append(f"module {name} has no inputs. Name at least one (e.g. 'x') and let its first node read it.")
    seen: set[str] = set()
    for i in list(d.inputs) + ids:
        if i in seen:
            out.append(f"module {name}: '{i}' is used twice (inputs and node ids share one set of names).")
        seen.add(i)
    for n in d.nodes:
        if n.op == "Input":
            out.append(f"module {name}, node '{n.id}': a module takes its inputs from 'inputs', not from an Input "
                       f"node. Remove '{n.id}' and list an input name instead.")
        for k, v in n.params.items():
            for ref in arg_refs(v):
                if ref not in d.args:
                    hint = _closest(ref, list(d.args))
                    out.append(f"module {name}, node '{n.id}': params.{k} uses argument '${ref}', which {name} does "
                               f"not have." + (f" Did you mean '${hint}'?" if hint else "")
                               + " Add it to the module's args or use a number.")
    return out


def flatten(g: Any) -> Flat:
    """The graph with every instance inlined, and the map back. Never raises for a broken definition: its problem
    is an Issue on the instance node, and the instance's output is left unresolved (its readers are blocked)."""
    defs = getattr(g, "modules", None) or {}
    broken = {name: definition_issues(g, name) for name in defs}
    size = flat_size(g)
    if size > MAX_NODES:  # a module used many times inside modules used many times: refused before inlining
        msg = (f"the design inlines to more than {MAX_NODES:,} layers (the limit) with its modules expanded. Use "
               f"fewer instances or smaller modules.")
        broken = {name: [msg] for name in defs}
    flat_nodes: list = []
    owner: dict[str, str] = {}
    inner: dict[str, str] = {}
    issues: list[Issue] = []
    instances: dict[str, Instance] = {}
    unresolved: set[str] = set()

    def expand(nodes, scope: dict[str, str], prefix: str, top: str | None, path: tuple[str, ...],
               args: dict[str, Any], parent: Instance | None, mods: tuple[str, ...] = ()) -> None:
        """Inline `nodes` (a definition's, or the top level's when prefix is '') into flat_nodes."""
        local = {n.id for n in nodes}
        for n in nodes:
            fid = prefix + n.id
            if not is_instance(g, n.op):
                continue
            # an instance's output id is known before its nodes are made (readers may come first in the file)
            scope[n.id] = _output_id(defs, n.op, fid)
        for n in nodes:
            fid = prefix + n.id
            top_id = top or n.id
            def mapped(src: str) -> str:
                return scope.get(src, prefix + src if src in local else src)
            if is_instance(g, n.op):
                where = " > ".join((*path, n.id)) if path else n.id
                d = defs[n.op]
                values, problems = resolve_args(g, n.op, {k: substitute(v, args) if _ok(v, args) else v
                                                           for k, v in n.params.items()})
                msgs = list(broken[n.op]) + problems
                if n.op in mods or len(mods) >= MAX_MODULE_DEPTH:
                    msgs.append(f"module {n.op} uses itself (through {where}): a module cannot contain itself.")
                if len(n.inputs) != len(d.inputs):
                    msgs.append(f"{n.op} takes {len(d.inputs)} input(s) ({', '.join(d.inputs)}) but has "
                                f"{len(n.inputs)}.")
                ins = [mapped(s) for s in n.inputs]
                inst = Instance(fid, n.op, values, ins, None)
                if parent is None:
                    instances[n.id] = inst
                else:
                    parent.children[n.id] = inst
                if msgs:
                    for m in msgs:
                        issues.append(Issue(m if not path else f"inside '{' > '.join(path[1:] + (n.id,))}': {m}",
                                            node=top_id))
                    scope[n.id] = fid  # unresolved: readers are blocked (check treats fid as a known id)
                    unresolved.add(fid)
                    owner[fid] = top_id
                    continue
                sub_scope = dict(zip(d.inputs, ins))
                out = d.outputs[0]
                expand(d.nodes, sub_scope, fid + SEP, top_id, (*path, n.id), values, inst, (*mods, n.op))
                inst.output = sub_scope.get(out, f"{fid}{SEP}{out}")  # through a nested instance, or an input
                scope[n.id] = inst.output
                continue
            params = {k: substitute(v, args) if _ok(v, args) else v for k, v in n.params.items()}
            inputs = [mapped(s) for s in n.inputs]
            for name in ref_params(n.op):  # node references inside a definition point at its own nodes
                if isinstance(params.get(name), str):
                    params[name] = mapped(params[name])
            flat_nodes.append(n.model_copy(update={"id": fid, "inputs": inputs, "params": params}))
            owner[fid] = top_id
            if parent is not None:
                parent.children[n.id] = fid
                inner[fid] = fid[len(top_id) + len(SEP):]

    scope: dict[str, str] = {}
    expand(g.nodes, scope, "", None, (), {}, None)
    used = {i.module for i in instances.values()}
    used |= {c.module for i in instances.values() for c in _nested(i)}
    for name in defs:
        if name not in used:  # a definition nobody uses yet is still checked on its own
            issues += [Issue(m, field=f"modules.{name}") for m in broken[name]]
    outputs = [scope.get(o, o) for o in g.outputs]
    flat = g.model_copy(update={"nodes": flat_nodes, "outputs": outputs, "modules": {}})
    alias = {i: inst.output or i for i, inst in instances.items()}
    return Flat(flat, instances, owner, inner, issues, alias, unresolved)


def flat_size(g: Any) -> int:
    """How many layers the graph has with every instance inlined (counted, not built; recursion counts once)."""
    defs = getattr(g, "modules", None) or {}
    memo: dict[str, int] = {}

    def size(name: str, seen: frozenset[str]) -> int:
        if name in memo:
            return memo[name]
        total = 0
        for n in defs[name].nodes:
            if n.op in defs and not has_op(n.op):
                total += size(n.op, seen | {name}) if n.op not in seen | {name} else 0
            else:
                total += 1
            if total > MAX_NODES:
                break
        memo[name] = total
        return total
    top = 0
    for n in g.nodes:
        top += size(n.op, frozenset()) if is_instance(g, n.op) else 1
        if top > MAX_NODES:
            break
    return top


def _output_id(defs: dict, op: str, fid: str) -> str:
    """The flat id an instance's output will have (through nested instances); the instance's own id when it
    cannot be known before expanding (a module that returns its input, a broken definition)."""
    seen = set()
    cur = fid
    while op in defs and op not in seen:
        seen.add(op)
        d = defs[op]
        out = d.outputs[0] if len(d.outputs) == 1 else None
        if not out or out in d.inputs:
            return fid
        cur = f"{cur}{SEP}{out}"
        inner = next((n for n in d.nodes if n.id == out), None)
        if inner is None:
            return fid
        op = inner.op
    return cur


def _nested(inst: Instance) -> list[Instance]:
    out, todo = [], [c for c in inst.children.values() if isinstance(c, Instance)]
    while todo:
        i = todo.pop()
        out.append(i)
        todo += [c for c in i.children.values() if isinstance(c, Instance)]
    return out


def _ok(v: Any, args: dict[str, Any]) -> bool:
    return all(r in args for r in arg_refs(v))
