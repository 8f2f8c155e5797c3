"""How one torch.fx call becomes catalog ops: one small converter per nn module class, function or tensor method.

Most converters are declared by the op they produce (`OpSpec.fx`, e.g. Conv2d's `from_module(nn.Conv2d, ...)` in
engine/catalog/conv.py) and collected into the tables below when this module loads. Only calls that are not one
op live in engine.fx itself: tensor_ops.py (reshape-like calls that become Flatten, Reshape or nothing; spatial
means that become two ops; indexing) and recurrent.py (permute + reshape that together become ToSequence).

A converter receives a `Call` (the fx node, its module, and what torch computed for every node when the importer
ran the model once) and returns an `Emit` (one catalog op), a list of them (a chain), an `Alias` (the call changes
nothing, e.g. `.contiguous()`), or raises `Unsupported` with the label the refusal message shows.

Shapes seen here include the batch (the traced run uses a batch of 2); catalog shapes and dims exclude it.
"""
from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from engine.catalog import get_op, list_ops


@dataclass(frozen=True)
class TensorFact:
    """What the traced run saw a tensor to be (shape with the batch first)."""

    shape: tuple[int, ...]
    dtype: torch.dtype


@dataclass
class Emit:
    """One catalog op for the graph; its params as torch had them (the builder drops those equal to defaults)."""

    op: str
    params: dict[str, Any]
    inputs: list[Any]  # fx Nodes, or PREV: the op emitted just before in the same chain
    results: Callable[[str], Any] | None = None  # for tuple-valued calls: graph id -> the call's fx value
    keep: tuple[str, ...] = ()  # params written to the file even when they equal the catalog default
    expect: tuple[int, ...] | None = None  # the per-sample output shape, when it is not this fx node's own
    source: str | None = None  # the source module or parameter path, for a call that is not a module call
    one_of_many: bool = False  # the call returns a tuple: one such Emit per item, each from the inputs (x.chunk)


@dataclass
class Alias:
    """The call returns its input unchanged (as far as the graph is concerned)."""

    source: fx.Node


PREV = object()


@dataclass(frozen=True)
class Indices:
    """The indices a MaxPool2d(return_indices=True) node returned (what a MaxUnpool2d names as its pool)."""

    pool: str


@dataclass(frozen=True)
class Refused:
    """A part of a tuple result the catalog cannot express (e.g. an LSTM's (h, c)); refused only if it is used."""

    label: str


class Unsupported(Exception):
    """`label` names the op as the refusal lists it: 'torch.roll', "nn.Conv2d(padding_mode='circular')"."""

    def __init__(self, label: str):
        super().__init__(label)
        self.label = label


def call_label(node: fx.Node, module: nn.Module | None) -> str:
    """The name a user recognises for what an fx node calls."""
    if node.op == "call_module":
        cls = type(module)
        return f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else f"{cls.__module__}.{cls.__qualname__}"
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    if node.op == "get_attr":
        return f"a tensor attribute used directly (self.{node.target})"
    fn = node.target
    name = getattr(fn, "__name__", repr(fn))
    mod = getattr(fn, "__module__", None) or ""
    if mod.startswith(("torch.nn.functional", "torch._C._nn")):
        return f"F.{name}"
    if mod == "torch" or mod.startswith(("torch.", "torch._")):
        return f"torch.{name}"
    if mod in ("_operator", "operator"):
        return f"operator.{name}"
    if mod == "builtins":
        return name
    return f"{mod}.{name}" if mod else name


def _parse_signature(sig: str) -> list[tuple[str, Any]]:
    out = []
    for part in sig.split(","):
        part = part.strip()
        if "=" in part:
            name, default = part.split("=", 1)
            out.append((name.strip(), ast.literal_eval(default.strip())))
        else:
            out.append((part, _REQUIRED))
    return out


_REQUIRED = object()


class Call:
    """One fx call, its arguments bound to names, and what torch computed for it."""

    def __init__(self, node: fx.Node, module: nn.Module | None, facts: dict[fx.Node, Any], builder: Any = None):
        self.node, self.module, self.facts, self.builder = node, module, facts, builder
        self.label = call_label(node, module)

    # -- arguments ------------------------------------------------------------------------------------------------
    def bind(self, signature: str) -> dict[str, Any]:
        """Positional and keyword arguments by name, defaults filled, e.g. bind("input, dim=None, keepdim=False")."""
        names = _parse_signature(signature)
        args, kwargs = list(self.node.args), dict(self.node.kwargs)
        if len(args) > len(names):
            raise Unsupported(f"{self.label} with {len(args)} positional arguments")
        out: dict[str, Any] = {}
        for (name, default), value in zip(names, args + [_REQUIRED] * (len(names) - len(args))):
            if value is _REQUIRED:
                value = kwargs.pop(name, default)
            if value is _REQUIRED:
                raise Unsupported(f"{self.label} without its argument '{name}'")
            out[name] = value
        if kwargs:
            raise Unsupported(f"{self.label}({', '.join(f'{k}=…' for k in kwargs)})")
        return out

    def const(self, value: Any) -> Any:
        """A non-tensor argument as a Python value (ints computed from sizes included)."""
        if isinstance(value, fx.Node):
            fact = self.facts.get(value)
            if has_tensor(fact):
                raise Unsupported(f"{self.label} with a tensor where a number is expected")
            return fact
        if isinstance(value, (list, tuple)):
            return type(value)(self.const(v) for v in value)
        return value

    def tensor(self, value: Any) -> fx.Node:
        if not isinstance(value, fx.Node) or not isinstance(self.facts.get(value), TensorFact):
            raise Unsupported(f"{self.label} with a constant operand")
        return value

    # -- shapes (batch first) -------------------------------------------------------------------------------------
    def full_shape(self, value: Any) -> tuple[int, ...]:
        return self.facts[self.tensor(value)].shape

    @property
    def out_fact(self) -> Any:
        return self.facts.get(self.node)

    @property
    def full_out(self) -> tuple[int, ...]:
        fact = self.out_fact
        if not isinstance(fact, TensorFact):
            raise Unsupported(f"{self.label} returning {type(fact).__name__}")
        return fact.shape

    def feature_dim(self, dim: int, rank: int) -> int:
        """A torch dim (batch included, may be negative) as the catalog's dim (batch excluded, non-negative)."""
        d = dim % rank
        if d == 0:
            raise Unsupported(f"{self.label} over the batch dimension")
        return d - 1

    # -- what a converter returns; methods, so converters declared in the catalog need not import engine.fx ------
    def emit(self, op: str, params: dict[str, Any], inputs: list[Any], *, keep: tuple[str, ...] = (),
             results: Callable[[str], Any] | None = None, expect: tuple[int, ...] | None = None,
             source: str | None = None, one_of_many: bool = False) -> Emit:
        return Emit(op, params, inputs, results=results, keep=keep, expect=expect, source=source,
                    one_of_many=one_of_many)

    def alias(self, source: fx.Node) -> Alias:
        return Alias(source)

    def unsupported(self, label: str | None = None) -> Unsupported:
        """The refusal to raise: `raise c.unsupported(f"{c.label}(padding_mode='circular')")`."""
        return Unsupported(label or self.label)

    def only_input(self) -> fx.Node:
        """The single tensor argument of a module call (extra arguments are refused)."""
        if len(self.node.args) != 1 or self.node.kwargs:
            raise Unsupported(f"{self.label} called with extra arguments")
        return self.tensor(self.node.args[0])

    def indices(self, pool: str) -> Indices:
        """The second result of a MaxPool2d(return_indices=True) node `pool`."""
        return Indices(pool)

    def refused(self, label: str) -> Refused:
        """A part of a tuple result the graph cannot hold, refused only where the model uses it."""
        return Refused(label)

    def pool_of(self, value: Any) -> str | None:
        """The MaxPool2d node whose indices the fx value `value` is, or None (MaxUnpool2d's `pool`)."""
        v = self.builder.value(value) if self.builder is not None and isinstance(value, fx.Node) else None
        return v.pool if isinstance(v, Indices) else None


def has_tensor(fact: Any) -> bool:
    if isinstance(fact, TensorFact):
        return True
    if isinstance(fact, (list, tuple)):
        return any(has_tensor(f) for f in fact)
    return False


MODULES: dict[type, Callable[[Call], Any]] = {}
FUNCTIONS: dict[Any, Callable[[Call], Any]] = {}
METHODS: dict[str, Callable[[Call], Any]] = {}


def _add(table: dict, targets: tuple, fn: Callable[[Call], Any], owner: str) -> None:
    for t in targets:
        if table.get(t, fn) is not fn:  # two converters for one call would make the import depend on load order
            raise ValueError(f"{owner}: a converter for {t!r} is already registered")
        table[t] = fn


def on_module(*classes: type):
    def deco(fn):
        _add(MODULES, classes, fn, fn.__name__)
        return fn
    return deco


def on_function(*fns: Any):
    def deco(fn):
        _add(FUNCTIONS, fns, fn, fn.__name__)
        return fn
    return deco


def on_method(*names: str):
    def deco(fn):
        _add(METHODS, names, fn, fn.__name__)
        return fn
    return deco


def _load_catalog() -> None:
    """Every op's own fx mapping (OpSpec.fx) into the tables."""
    tables = {"module": MODULES, "function": FUNCTIONS, "method": METHODS}
    for name in list_ops():
        for src in get_op(name).fx:
            _add(tables[src.kind], src.targets, src.convert, f"op {name}")


_load_catalog()


REWRITE = "convas_convert"  # node.meta key: the converter a rewrite (engine/fx/rewrites.py) chose for this call


def converter_for(node: fx.Node, module: nn.Module | None) -> Callable[[Call], Any] | None:
    if REWRITE in node.meta:
        return node.meta[REWRITE]
    if module is not None:
        return MODULES.get(type(module))
    return METHODS.get(node.target) if node.op == "call_method" else FUNCTIONS.get(node.target)
