"""Which node's tensor can we read, and where: node id -> a hook point on the compiled module.

`build_module` names each layer attribute with the codegen Namespace, visiting nodes in dependency order; doing
the same here recovers `node id -> self.<attr>` without storing anything extra in the model. A node that owns a
module (Conv2d, Linear, ReLU, pools, Dropout, ...) is read with a forward hook on its output. A functional node
(Flatten, Add, Concat) owns no module; it is still readable when some module consumes it as its only input
(Flatten -> Linear): a forward-pre hook on that consumer sees exactly the node's output. Nodes with neither
(e.g. an Add that is the network's output) are not selectable; `taps` leaves them out, and so it does with a
module whose output is not its node's (checked by one forward pass of zeros). In a design with module instances
the layers are those of the flat graph (`layer1_0.conv1`), found at their module path in the exported classes
(engine.layer_paths).
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from engine.catalog import get_op
from engine.codegen import Namespace
from engine.graph import Graph, load_graph
from engine.layer_paths import flat_layer_paths
from engine.modules import flatten, uses_modules
from engine.shapes import check
from engine.visualise.guard import ModelGuard, model_device


@dataclass(frozen=True)
class Tap:
    """A place where one node's output tensor can be read during a forward pass."""

    node: str  # node id ("" when the layer was given as a bare module)
    module: nn.Module
    side: Literal["output", "input"]  # read the module's output, or its (only) input
    op: str = ""
    shape: tuple[int, ...] | None = None  # without the batch dimension, when known from the graph

    @property
    def label(self) -> str:
        shape = "×".join(str(s) for s in self.shape) if self.shape else "?"
        return f"{self.node or type(self.module).__name__} ({self.op or type(self.module).__name__}, {shape})"


class _Stop(Exception):
    """Raised by a capture hook to end the forward pass once the wanted tensor exists."""


def attribute_names(g: Graph) -> dict[str, str]:
    """node id -> the identifier build_module gave it (same Namespace, same visiting order as codegen._emit)."""
    report = check(g)
    ns = Namespace()
    return {nid: ns.create_name(nid, nid) for nid in report.order}


def taps(graph, model: nn.Module) -> dict[str, Tap]:
    """Every readable node of a compiled graph, in dependency order (the Input node excluded).

    Each candidate hook point is checked with one forward pass of zeros: it must fire exactly once and carry a
    tensor of the node's inferred shape. That rules out modules whose output is not the node's output (an LSTM
    whose node keeps only the last step, an average pool called twice for 'same' padding)."""
    g = load_graph(graph)
    key = g.to_json()
    cached = _TAPS.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    if uses_modules(g):  # the layers inside instances, by flat id (layer1_0.conv1) and module path (layer1.0.conv1)
        names, report, g = flat_layer_paths(g), check(g).flat, flatten(g).graph
    else:
        report, names = check(g), attribute_names(g)
    nodes = {n.id: n for n in g.nodes}
    consumers: dict[str, list[str]] = {}
    for n in g.nodes:
        for s in n.inputs:
            consumers.setdefault(s, []).append(n.id)
    candidates: dict[str, list[Tap]] = {}
    for nid in report.order:
        n = nodes[nid]
        if n.op == "Input":
            continue
        shape = report.nodes[nid].shape
        found = []
        mod = _submodule(model, names[nid])
        if isinstance(mod, nn.Module):
            found.append(Tap(nid, mod, "output", n.op, shape))
        for c in consumers.get(nid, []):
            cmod = _submodule(model, names[c])
            if isinstance(cmod, nn.Module) and nodes[c].inputs == [nid] and not get_op(nodes[c].op).ref_params:
                found.append(Tap(nid, cmod, "input", n.op, shape))
        candidates[nid] = found
    seen = _probe(model, g, report)
    out = {}
    for nid, found in candidates.items():
        for t in found:
            if seen is None or seen.get((id(t.module), t.side)) == [t.shape]:
                out[nid] = t
                break
    _TAPS[model] = (key, out)
    return out


def _submodule(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


_TAPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (graph JSON, its taps)


def _probe(model: nn.Module, g: Graph, report) -> dict[tuple[int, str], list[tuple[int, ...]]] | None:
    """One forward of zeros; for every (module, side) the shapes (batch dropped) it saw, once per call.
    None when the model cannot run on zeros (then the structural mapping is used unchecked)."""
    seen: dict[tuple[int, str], list[tuple[int, ...]]] = {}

    def shape_of(t):
        t = t[0] if isinstance(t, (tuple, list)) and t else t
        return tuple(t.shape[1:]) if isinstance(t, torch.Tensor) else None

    def on_output(module, args, output):
        seen.setdefault((id(module), "output"), []).append(shape_of(output))

    def on_input(module, args):
        seen.setdefault((id(module), "input"), []).append(shape_of(args[0]) if args else None)

    device = model_device(model)
    inputs = []
    for nid in report.order:
        n = g.node(nid)
        if n.op == "Input":
            dtype = torch.long if n.params.get("dtype") == "int64" else torch.float32
            inputs.append(torch.zeros((1, *report.nodes[nid].shape), dtype=dtype, device=device))
    try:
        with ModelGuard(model) as guard, torch.no_grad():
            for m in model.modules():
                if m is not model:
                    guard.hook(m, on_output)
                    guard.hook(m, on_input, pre=True)
            model(*inputs)
    except Exception:  # noqa: BLE001 - a model that cannot take zeros still gets its structural taps
        return None
    return seen


def conv_taps(graph, model: nn.Module) -> dict[str, Tap]:
    """The nodes whose module holds a 4-d kernel (Conv2d, ConvTranspose2d): what the Filters view can draw."""
    return {k: t for k, t in taps(graph, model).items()
            if t.side == "output" and getattr(t.module, "weight", None) is not None and t.module.weight.dim() == 4}


def resolve(model: nn.Module, layer, graph=None) -> Tap:
    """A Tap from a node id (needs the graph), a module of the model, or a Tap."""
    if isinstance(layer, Tap):
        return layer
    if isinstance(layer, nn.Module):
        if not any(layer is m for m in model.modules()):
            raise ValueError(f"the layer is not a submodule of the model. Received: layer={type(layer).__name__}")
        return Tap("", layer, "output", type(layer).__name__)
    if isinstance(layer, str):
        if graph is None:
            raise ValueError(f"a layer given by node id needs the graph. Received: layer={layer!r}, graph=None")
        found = taps(graph, model)
        if layer not in found:
            raise ValueError(f"node {layer!r} has no readable output (it is unknown, the Input, or a functional "
                             f"node no single module consumes). Choose one of: {', '.join(found)}. "
                             f"Received: layer={layer!r}")
        return found[layer]
    raise TypeError(f"layer must be a node id, an nn.Module or a Tap. Received: layer={type(layer).__name__}")


class Capture:
    """Reads the tensor a tap produces during `run`, optionally ending the forward pass right there. Outside
    `run` the hook is inert, so plain `model(x)` calls inside the same guard see the whole network."""

    def __init__(self, guard, tap: Tap, stop: bool = False):
        self.tensor: torch.Tensor | None = None
        self.stop = stop
        self._active = False
        if tap.side == "output":
            guard.hook(tap.module, self._on_output)
        else:
            guard.hook(tap.module, self._on_input, pre=True)

    def _keep(self, t) -> None:
        if not self._active:
            return
        self.tensor = t[0] if isinstance(t, (tuple, list)) else t
        if self.stop:
            raise _Stop

    def _on_output(self, module, args, output):
        self._keep(output)

    def _on_input(self, module, args):
        self._keep(args[0])

    @contextmanager
    def listening(self):
        """Record the tap during the forward passes inside this block (no early stop)."""
        self.tensor, self._active, stop = None, True, self.stop
        self.stop = False
        try:
            yield self
        finally:
            self._active, self.stop = False, stop

    def run(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Forward x and return the captured tensor (the forward ends early when stop=True)."""
        self.tensor = None
        self._active = True
        try:
            model(x)
        except _Stop:
            pass
        finally:
            self._active = False
        if self.tensor is None:
            raise RuntimeError("the chosen layer was not reached in the forward pass (is it used by the model?).")
        return self.tensor


def input_shape_of(graph) -> tuple[int, ...] | None:
    """The (C, H, W) of the graph's single Input node, or None without a graph."""
    if graph is None:
        return None
    g = load_graph(graph)
    report = check(g)
    shapes = [report.nodes[n.id].shape for n in g.nodes if n.op == "Input"]
    if len(shapes) != 1:
        raise ValueError(f"visualisations need a graph with exactly one Input node. Received: {len(shapes)} inputs")
    return shapes[0]
