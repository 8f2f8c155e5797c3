"""Recurrent state a model carries from one forward call to the next (a language model reading a text in windows).

torch.fx records tensor calls, not what the forward stores on the model: `self.carried[name] = state` (what codegen
exports for a stateful LSTM/GRU, its carry_state method) or a hand-written `self.hidden = (h.detach(),
c.detach())` leaves an fx Proxy on the module after tracing and nothing in the graph. So tracing here snapshots the
attributes of every submodule, finds the Proxies the forward left behind, and puts every attribute back as it was
(a traced model is not changed by the import). A kept value computed only from a recurrent layer's final state
(through indexing and detach) makes that layer stateful=True: the layer was called with no state (None, as the
first call of such a model is), and the calls on the way to the kept value are the state's bookkeeping, not graph
nodes. Any other kept value changes nothing the graph can express and is ignored, as before.
"""
from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from engine.fx.convert import MODULES, REWRITE, Call, Emit, Unsupported

STATE = "convas_state"  # node.meta key: a call that only computes the state a stateful layer keeps (no graph node)
_RNNS = (nn.LSTM, nn.GRU)
_MAX_DEPTH = 4  # how deep into dicts/lists/tuples of an attribute kept values are looked for


def _snapshot(root: nn.Module) -> dict[nn.Module, tuple[dict, dict]]:
    """Per module: its attribute dict, and a copy of the contents of each attribute that is a dict or a list."""
    return {m: (dict(vars(m)), {k: (dict(v) if isinstance(v, dict) else list(v))
                                for k, v in vars(m).items() if isinstance(v, (dict, list))})
            for m in root.modules()}


def _restore(saved: dict[nn.Module, tuple[dict, dict]]) -> None:
    for m, (attrs, contents) in saved.items():
        d = vars(m)
        for k in [k for k in d if k not in attrs]:
            del d[k]
        d.update(attrs)
        for k, items in contents.items():
            if isinstance(items, dict):
                attrs[k].clear()
                attrs[k].update(items)
            else:
                attrs[k][:] = items


def _proxies(value: Any, depth: int = 0):
    if isinstance(value, fx.Proxy):
        yield value.node
    elif depth < _MAX_DEPTH and isinstance(value, (dict, list, tuple)):
        for v in value.values() if isinstance(value, dict) else value:
            yield from _proxies(v, depth + 1)


def trace(module: nn.Module) -> tuple[fx.GraphModule, list[fx.Node]]:
    """symbolic_trace(module), and the nodes whose values the forward kept on the model (module left unchanged)."""
    saved = _snapshot(module)
    try:
        gm = fx.symbolic_trace(module)
        kept = [n for m in module.modules() for v in vars(m).values() for n in _proxies(v)
                if n.graph is gm.graph]
    finally:
        _restore(saved)
    return gm, list(dict.fromkeys(kept))


def _is_state_step(node: fx.Node) -> bool:
    """Indexing into a state tuple, or detaching it."""
    if node.op == "call_function":
        return node.target in (operator.getitem, torch.detach) and not node.kwargs
    return node.op == "call_method" and node.target == "detach" and not node.kwargs


def _state_of(end: fx.Node, root: nn.Module) -> tuple[fx.Node, set[fx.Node]] | None:
    """(the recurrent call, the calls from its final state to `end`) when `end` is computed from that state only."""
    path: set[fx.Node] = set()
    todo, rnn = [end], None
    while todo:
        n = todo.pop()
        if n in path:
            continue
        path.add(n)
        src = n.args[0] if _is_state_step(n) and n.args else None
        if not isinstance(src, fx.Node):
            return None
        if src.op == "call_module" and isinstance(root.get_submodule(src.target), _RNNS) \
                and n.target is operator.getitem and n.args[1] == 1:
            if rnn not in (None, src):
                return None
            rnn = src
        else:
            todo.append(src)
    return (rnn, path) if rnn is not None else None


def mark_stateful(gm: fx.GraphModule, kept: list[fx.Node], root: nn.Module) -> None:
    """Mark each recurrent layer whose final state the forward keeps (see the module docstring)."""
    paths: dict[fx.Node, set[fx.Node]] = {}
    for end in kept:
        found = _state_of(end, root)
        if found is not None:
            paths.setdefault(found[0], set()).update(found[1])
    for rnn, path in paths.items():
        state_only = all(u in path for n in path for u in n.users)  # the state feeds nothing but what is kept
        if rnn.args[1:] not in ((), (None,)) or rnn.kwargs:
            continue  # fed a state of its own: refused as a call with extra arguments
        if not state_only:
            rnn.meta[REWRITE] = _state_also_used
            continue
        for n in path:
            n.meta[STATE] = True
        rnn.meta[REWRITE] = _stateful


class _StatefulCall(Call):
    def only_input(self) -> fx.Node:
        return self.tensor(self.node.args[0])  # the second argument is the state, None at the first call


def _state_also_used(c: Call) -> Emit:
    raise Unsupported(f"{c.label} whose final state is kept for the next call and also used in this one (keep "
                      f"the state only, as a stateful layer does, and compute the output from the sequence)")


def _stateful(c: Call) -> Emit:
    if c.module.bidirectional:
        raise Unsupported(f"{c.label}(bidirectional=True) carrying its state between calls")
    emit = MODULES[type(c.module)](_StatefulCall(c.node, c.module, c.facts, c.builder))
    emit.params["stateful"] = True
    return emit


__all__ = ["STATE", "mark_stateful", "trace"]
