"""The layer catalog: one registry entry per op, the single source of truth.

Invariants:
- op names are unique (registering a name twice is an error) and follow torch.nn;
- every parameter has a type, a default, an allowed range and help text;
- params are normalised once (`OpSpec.normalise`) and every rule below reads only normalised params;
- shape rules are pure integer functions of (params, input shapes) that raise ShapeError with the arithmetic.

Shapes exclude the batch dimension: C×H×W for images, (T, F) for sequences, (F,) for vectors.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.catalog.categories import BLOCKS, get_category
from engine.errors import ParamError
from engine.suggest import closest

Shape = tuple[int, ...]

PARAM_TYPES = ("int", "float", "bool", "choice", "pair", "padding", "shape", "node", "str")


@dataclass(frozen=True)
class Param:
    """One parameter of an op, as the property form, the validator and the docs see it."""

    name: str
    type: str  # one of PARAM_TYPES
    default: Any
    help: str
    min: float | None = None  # inclusive bounds for int/float/pair/shape elements
    max: float | None = None
    choices: tuple[Any, ...] | None = None  # for "choice"; for "padding" the allowed strings
    optional: bool = False  # None is allowed (and means "not set")

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "type": self.type, "default": self.default, "help": self.help,
             "min": self.min, "max": self.max, "optional": self.optional}
        if self.choices is not None:
            d["choices"] = list(self.choices)
        return d


@dataclass
class EmitCtx:
    """What an op's code emitters see: normalised params, shapes, and the names chosen by the namespace."""

    p: dict[str, Any]
    in_shapes: list[Shape]
    out_shape: Shape
    attr: str  # the module attribute name (self.<attr>)
    args: list[str]  # forward variable names of the inputs, in order
    extras: dict[str, Any] = field(default_factory=dict)  # graph-level facts, e.g. return_indices


FX_KINDS = ("module", "function", "method")


@dataclass(frozen=True)
class FxFrom:
    """One way an op appears in a torch.fx trace: the nn module classes, functions or Tensor method names it maps
    from, and the converter that reads such a call's settings into the op's params.

    The converter receives an engine.fx.convert.Call `c` and returns `c.emit(op, params, inputs, ...)` (or
    `c.alias(x)` when the call changes nothing); it raises `c.unsupported(label)` for a setting the op cannot
    express. The catalog declares it and engine.fx calls it, so the catalog never imports engine.fx.
    """

    kind: str  # one of FX_KINDS
    targets: tuple[Any, ...]  # nn.Module classes, callables (F.relu, operator.add) or method names ("relu")
    convert: Callable[[Any], Any]


def from_module(*classes: type, convert: Callable[[Any], Any]) -> FxFrom:
    return FxFrom("module", classes, convert)


def from_function(*fns: Any, convert: Callable[[Any], Any]) -> FxFrom:
    return FxFrom("function", fns, convert)


def from_method(*names: str, convert: Callable[[Any], Any]) -> FxFrom:
    return FxFrom("method", names, convert)


def default_id_prefix(op: str) -> str:
    """'LeakyReLU' -> 'leakyrelu', 'Dropout2d' -> 'dropout': the op name as a lower-case identifier stem."""
    stem = re.sub(r"[^a-z0-9_]", "", op.lower())
    stem = re.sub(r"[0-9]+d$", "", stem) or "node"
    return stem if not stem[0].isdigit() else f"n{stem}"


@dataclass
class OpSpec:
    """Everything about one op: what the property form, the shape check, the compiler, the exporter, the importer,
    the palette and the docs need. Only `name` .. `forward` are required; see docs/adding-an-op.md."""

    name: str
    category: str
    doc: str
    params: list[Param]
    infer: Callable[[dict, list[Shape]], Shape]
    init: Callable[[EmitCtx], str | None]  # nn constructor source, or None for a parameter-free functional op
    forward: Callable[[EmitCtx], str]  # forward expression source
    count_params: Callable[[dict, list[Shape], Shape], int] = lambda p, ins, out: 0
    count_macs: Callable[[dict, list[Shape], Shape], int] = lambda p, ins, out: 0
    min_inputs: int = 1
    max_inputs: int | None = 1  # None: any number >= min_inputs
    input_names: tuple[str, ...] = ()  # port labels for ordered multi-input ops
    check_params: Callable[[dict], None] | None = None  # cross-parameter checks, raise ParamError
    ref_params: tuple[str, ...] = ()  # "node" params whose node's (input shape, output shape) infer also receives
    id_prefix: str = ""  # stem of new node ids on the canvas (conv1, conv2, ...); empty: default_id_prefix(name)
    fx: tuple[FxFrom, ...] = ()  # where the op comes from in an imported torch model (engine.fx reads these)
    describe: Callable[[dict], str] | None = None  # normalised params -> how a fix button names a new node
    width_param: str | None = None  # the param that alone sets the output's channels/features (Linear out_features)
    # integer token ids (an int64 Input): "refuse" them (most ops compute on floats), "pass" them on unchanged
    # (Identity, Reshape, Flatten only move them), or "lookup": need them and turn them into floats (Embedding)
    token_ids: Literal["refuse", "pass", "lookup"] = "refuse"
    imports: tuple[str, ...] = ()  # modules the emitted code needs beyond torch, nn and F (e.g. "torchvision")
    # module-level source (a class) that `init` refers to, written once into each generated file that uses the op
    module_source: str = ""

    def __post_init__(self) -> None:
        self.id_prefix = self.id_prefix or default_id_prefix(self.name)

    def title(self, params: dict[str, Any]) -> str:
        """A short phrase for a new node of this op with these normalised params ('a 1×1 Conv2d with 16 filters')."""
        return self.describe(params) if self.describe else self.name

    def param(self, name: str) -> Param:
        for prm in self.params:
            if prm.name == name:
                return prm
        raise KeyError(name)

    def arity_text(self) -> str:
        if self.max_inputs == self.min_inputs:
            return str(self.min_inputs)
        if self.max_inputs is None:
            return f"{self.min_inputs} or more"
        return f"{self.min_inputs} to {self.max_inputs}"

    def normalise(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[ParamError]]:
        """Fill defaults and coerce every parameter once; return (params, problems). Unknown names are problems."""
        out: dict[str, Any] = {}
        problems: list[ParamError] = []
        known = {p.name for p in self.params}
        for name in raw:
            if name not in known:
                hint = _closest(name, sorted(known))
                problems.append(ParamError(name, f"unknown parameter '{name}' for {self.name}."
                                           + (f" Did you mean '{hint}'?" if hint else "")
                                           + f" {self.name} takes: {', '.join(sorted(known)) or 'no parameters'}."))
        for prm in self.params:
            value = raw.get(prm.name, prm.default)
            try:
                out[prm.name] = coerce(prm, value)
            except ParamError as e:
                problems.append(e)
        if not problems and self.check_params:
            try:
                self.check_params(out)
            except ParamError as e:
                problems.append(e)
        return out, problems

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "category": self.category, "doc": self.doc,
                "params": [p.to_dict() for p in self.params], "min_inputs": self.min_inputs,
                "max_inputs": self.max_inputs, "input_names": list(self.input_names), "id_prefix": self.id_prefix}


def _closest(name: str, options: list[str]) -> str | None:
    return closest(name, options)  # bounded in the lengths it compares (engine/suggest.py)


def _bounds(prm: Param, v: float, what: str | None = None) -> None:
    what = what or prm.name
    if prm.min is not None and v < prm.min:
        raise ParamError(prm.name, f"{what} must be ≥ {_fmt(prm.min)}. Received: {prm.name}={v!r}.")
    if prm.max is not None and v > prm.max:
        raise ParamError(prm.name, f"{what} must be ≤ {_fmt(prm.max)}. Received: {prm.name}={v!r}.")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _int(prm: Param, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        raise ParamError(prm.name, f"{prm.name} must be a whole number. Received: {prm.name}={v!r}.")
    return v


def coerce(prm: Param, v: Any) -> Any:
    """Check one raw JSON value against its Param and return the normalised value (pairs become tuples)."""
    if v is None:
        if prm.optional:
            return None
        raise ParamError(prm.name, f"{prm.name} is required. Received: {prm.name}=None.")
    t = prm.type
    if t == "int":
        v = _int(prm, v)
        _bounds(prm, v)
        return v
    if t == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ParamError(prm.name, f"{prm.name} must be a number. Received: {prm.name}={v!r}.")
        _bounds(prm, float(v))
        return float(v)
    if t == "bool":
        if not isinstance(v, bool):
            raise ParamError(prm.name, f"{prm.name} must be true or false. Received: {prm.name}={v!r}.")
        return v
    if t == "choice":
        if v not in (prm.choices or ()):
            opts = ", ".join(repr(c) for c in prm.choices or ())
            raise ParamError(prm.name, f"{prm.name} must be one of {opts}. Received: {prm.name}={v!r}.")
        return v
    if t == "str":
        if not isinstance(v, str):
            raise ParamError(prm.name, f"{prm.name} must be text. Received: {prm.name}={v!r}.")
        return v
    if t == "node":
        if not isinstance(v, str) or not v:
            raise ParamError(prm.name, f"{prm.name} must name a node id. Received: {prm.name}={v!r}.")
        return v
    if t == "pair":
        return _pair(prm, v)
    if t == "padding":
        if isinstance(v, str):
            allowed = prm.choices or ("valid", "same", "full")
            if v not in allowed:
                raise ParamError(prm.name, f"{prm.name} must be a whole number, a pair [h, w], or one of "
                                 f"{', '.join(repr(a) for a in allowed)}. Received: {prm.name}={v!r}.")
            return v
        return _pair(prm, v)
    if t == "shape":
        if not isinstance(v, (list, tuple)) or not v:
            raise ParamError(prm.name, f"{prm.name} must be a list of sizes like [1, 28, 28]. "
                             f"Received: {prm.name}={v!r}.")
        out = []
        for x in v:
            x = _int(prm, x)
            _bounds(prm, x, f"every size in {prm.name}")
            out.append(x)
        return tuple(out)
    raise AssertionError(f"unknown param type {t}")


def _pair(prm: Param, v: Any) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        if len(v) != 2:
            raise ParamError(prm.name, f"{prm.name} must be one number or a pair [h, w]. Received: {prm.name}={list(v)!r}.")
        a, b = (_int(prm, x) for x in v)
    else:
        a = b = _int(prm, v)
    _bounds(prm, a)
    _bounds(prm, b)
    return (a, b)


_REGISTRY: dict[str, OpSpec] = {}


def register_op(spec: OpSpec) -> OpSpec:
    """Add an op to the catalog; a name already taken is refused."""
    if spec.name in _REGISTRY:
        raise ValueError(f"op {spec.name!r} is already registered")
    if spec.category == BLOCKS:
        raise ValueError(f"op {spec.name!r}: {BLOCKS!r} is the palette's group of composite blocks, not an op category")
    get_category(spec.category)  # KeyError naming the known categories
    if not spec.id_prefix.isidentifier() or spec.id_prefix != spec.id_prefix.lower():
        raise ValueError(f"op {spec.name!r}: id_prefix must be a lower-case identifier. Received: {spec.id_prefix!r}.")
    if spec.width_param is not None:
        spec.param(spec.width_param)  # KeyError: it must be one of the op's params
    for src in spec.fx:
        assert src.kind in FX_KINDS and src.targets, (spec.name, src)
    names = [p.name for p in spec.params]
    if len(set(names)) != len(names):
        raise ValueError(f"op {spec.name!r} has duplicate parameter names")
    for prm in spec.params:
        assert prm.type in PARAM_TYPES, (spec.name, prm.name, prm.type)
        assert prm.help, f"{spec.name}.{prm.name} needs help text"
    _REGISTRY[spec.name] = spec
    return spec


def get_op(name: str) -> OpSpec:
    return _REGISTRY[name]


def has_op(name: str) -> bool:
    return name in _REGISTRY


def list_ops() -> list[str]:
    return list(_REGISTRY)


def catalog_dict() -> dict[str, Any]:
    """The whole catalog as JSON-able data (the palette and the property forms read this)."""
    return {name: spec.to_dict() for name, spec in _REGISTRY.items()}
