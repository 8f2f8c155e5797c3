"""Import a PyTorch model as a graph file: trace it with torch.fx, map every call to catalog ops, check the shapes.

    g = import_model("torchvision:resnet18", input_shape=(3, 224, 224))    # or any nn.Module
    net = build_module(g)
    net.load_state_dict(map_state_dict(g, torchvision_model.state_dict()))

The importer runs the traced model once (eval mode, a batch of 2, no gradients; on fake tensors when it can, so no
arithmetic is done) and keeps what torch computed for every node; converters read those shapes, and at the end the
engine's own shape check must agree with torch on every node, or the import is refused. Anything the catalog
cannot express is refused with ONE message naming every unsupported op and how often it occurs.

Each node made from a module call records where it came from in `ui.comment` ("source: layer1.0.conv1"), so
`map_state_dict` can rename the source's weights to the compiled module's names even after the canvas has
renamed or moved nodes.
"""
from __future__ import annotations

import inspect
from collections import Counter, defaultdict
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from engine.catalog.arith import fmt_shape
from engine.codegen import Namespace
from engine.errors import GraphError
from engine.fx import patterns, rewrites, state
from engine.fx.blocks import as_modules
from engine.fx.builder import ATTR_LABEL, SOURCE_PREFIX, Builder
from engine.fx.convert import TensorFact
from engine.fx.state_map import flat_sources
from engine.graph import Graph, load_graph
from engine.layer_paths import flat_layer_paths
from engine.layout import layered_layout
from engine.modules import flatten, uses_modules
from engine.shapes import check

TRACE_BATCH = 2  # a batch of 2 tells the batch dimension apart from a literal 1 in view/reshape calls
# constructor arguments for torchvision models whose defaults are not the classic network
_TORCHVISION_KWARGS = {"googlenet": {"aux_logits": False, "init_weights": True},
                       "inception_v3": {"aux_logits": False, "init_weights": True}}


class ImportModelError(ValueError):
    """A model that cannot become a graph file; the message names every reason at once."""


def load_source(source: Any) -> tuple[nn.Module, str]:
    """'torchvision:<name>' (built with weights=None: nothing is downloaded) or an nn.Module -> (module, name)."""
    if isinstance(source, nn.Module):
        return source, type(source).__name__
    if isinstance(source, str) and source.startswith("torchvision:"):
        import torchvision

        name = source.split(":", 1)[1]
        available = torchvision.models.list_models()
        if name not in available:
            import difflib

            close = difflib.get_close_matches(name, available, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ImportModelError(f"torchvision has no model '{name}'.{hint} Received: source={source!r}.")
        kwargs = {"weights": None, **_TORCHVISION_KWARGS.get(name, {})}
        if "weights_backbone" in inspect.signature(torchvision.models.get_model_builder(name)).parameters:
            kwargs["weights_backbone"] = None  # detection/segmentation builders default to downloading one
        model = torchvision.models.get_model(name, **kwargs)
        return model, name
    raise ImportModelError(f"source must be 'torchvision:<model name>' or an nn.Module. Received: source={source!r}.")


def _input_shapes(input_shape: Any, count: int) -> list[tuple[int, ...]]:
    shapes = list(input_shape) if input_shape and isinstance(input_shape[0], (list, tuple)) else [input_shape]
    if len(shapes) != count:
        raise ImportModelError(f"the model's forward takes {count} input(s) but {len(shapes)} input shape(s) were "
                               f"given. Received: input_shape={input_shape!r}.")
    out = []
    for s in shapes:
        if not s or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in s):
            raise ImportModelError(f"an input shape is a list of positive sizes without the batch, e.g. (3, 224, 224). "
                                   f"Received: input_shape={input_shape!r}.")
        out.append(tuple(s))
    return out


def _fact(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return TensorFact(tuple(value.shape), value.dtype)
    if isinstance(value, torch.Size):
        return tuple(int(v) for v in value)
    if isinstance(value, (list, tuple)):
        return tuple(_fact(v) for v in value)
    return value


class _Recorder(fx.Interpreter):
    """Runs the traced model and keeps, per node, a TensorFact (or the Python value of a non-tensor result)."""

    def __init__(self, gm: fx.GraphModule):
        super().__init__(gm)
        self.facts: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        self.facts[n] = _fact(result)
        return result


_TOKEN_PASS = {"view", "reshape", "flatten", "squeeze", "unsqueeze", "contiguous"}  # calls that pass token ids on unchanged


def token_vocab(gm: fx.GraphModule, root: nn.Module) -> list[int | None]:
    """Per input: the smallest vocabulary of the nn.Embedding layers it feeds (directly or through reshapes) when it
    is token ids, else None. Token ids are traced as int64 ids below that size: an Embedding refuses floats."""
    out: list[int | None] = []
    for p in (n for n in gm.graph.nodes if n.op == "placeholder"):
        sizes, todo = [], list(p.users)
        while todo:
            u = todo.pop()
            if u.op == "call_module" and isinstance(root.get_submodule(u.target), nn.Embedding):
                sizes.append(root.get_submodule(u.target).num_embeddings)
            elif u.op == "call_method" and u.target in _TOKEN_PASS:
                todo.extend(u.users)
        out.append(min(sizes) if sizes else None)
    return out


def _inputs(shapes: list[tuple[int, ...]], vocab: list[int | None] | None, gen: torch.Generator | None = None) -> list:
    """A batch for each input: token ids (int64) below the vocabulary, or floats; empty when `gen` is None."""
    vocab = vocab or [None] * len(shapes)
    if gen is None:
        return [torch.empty((TRACE_BATCH,) + s, dtype=torch.float32 if v is None else torch.int64)
                for s, v in zip(shapes, vocab)]
    return [torch.randn((TRACE_BATCH,) + s, generator=gen) if v is None
            else torch.randint(0, v, (TRACE_BATCH,) + s, generator=gen) for s, v in zip(shapes, vocab)]


def _record_fake(gm: fx.GraphModule, shapes: list[tuple[int, ...]], vocab: list[int | None] | None = None) -> dict | None:
    """Shapes without arithmetic: run on fake tensors (VGG-16 at 224 in 0.1 s instead of seconds of convolutions).
    None when fake tensors cannot run this model; the caller then runs it for real."""
    try:
        from torch._subclasses.fake_tensor import FakeTensorMode

        recorder = _Recorder(gm)
        with torch.no_grad(), FakeTensorMode(allow_non_fake_inputs=True):
            recorder.run(*_inputs(shapes, vocab))
        return recorder.facts
    except Exception:  # noqa: BLE001 - any failure here only means "use real tensors"
        return None


def _record_real(gm: fx.GraphModule, shapes: list[tuple[int, ...]], vocab: list[int | None] | None, name: str) -> dict:
    gen = torch.Generator().manual_seed(0)
    recorder = _Recorder(gm)
    try:
        with torch.no_grad():
            recorder.run(*_inputs(shapes, vocab, gen))
    except Exception as e:  # noqa: BLE001
        shown = ", ".join(fmt_shape(s) + ("" if v is None else f" (token ids below {v})")
                          for s, v in zip(shapes, vocab or [None] * len(shapes)))
        reason = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ImportModelError(f"{name} does not run on an input of shape {shown}: {type(e).__name__}: {reason}. "
                               "Pass the input_shape the model expects (without the batch).") from e
    return recorder.facts


def _trace(module: nn.Module, name: str, input_shape: Any) -> tuple[fx.GraphModule, dict, list[tuple[int, ...]],
                                                                   list[fx.Node]]:
    """Trace and run once in eval mode; every submodule's train/eval mode (and every attribute the forward sets)
    is restored afterwards. Also returns the nodes whose values the forward kept on the model (engine.fx.state)."""
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        try:
            gm, kept = state.trace(module)
        except Exception as e:  # noqa: BLE001 - any tracing failure is the same answer for the user
            raise ImportModelError(f"cannot trace {name} with torch.fx: {type(e).__name__}: {e}. Only models whose "
                                   "control flow does not depend on tensor values can be imported.") from e
        shapes = _input_shapes(input_shape, sum(1 for n in gm.graph.nodes if n.op == "placeholder"))
        vocab = token_vocab(gm, module)
        facts = _record_fake(gm, shapes, vocab)
        if facts is None:
            facts = _record_real(gm, shapes, vocab, name)
    finally:
        for m, training in modes.items():
            m.training = training
    return gm, facts, shapes, kept


def import_model(source: Any, input_shape: Any = (3, 224, 224), name: str | None = None,
                 modules: bool = False) -> Graph:
    """'torchvision:<name>' or an nn.Module -> a valid Graph whose shapes the engine and torch agree on.

    input_shape excludes the batch: (C, H, W) for images; a list of shapes for a model with several inputs.
    modules=True: each block the model's nn_module_stack names (the outermost submodule with a forward of its own:
    ResNet's BasicBlocks, DenseNet's dense blocks, Inception's modules) arrives as an instance of a module named
    after its class (engine.fx.blocks). Raises ImportModelError naming every unsupported op at once.
    """
    module, label = load_source(source)
    gm, facts, shapes, kept = _trace(module, label, input_shape)
    rewrites.apply(gm, facts, module)
    patterns.apply(gm, facts, module)
    state.mark_stateful(gm, kept, module)
    b = Builder(module, gm, facts, shapes)
    b.run()
    if b.refused:
        raise ImportModelError(refusal(label, b.refused))
    if not b.outputs:
        raise ImportModelError(f"cannot import {label}: its forward returns no tensor.")
    graph = {"format": "convas-graph", "version": 1, "name": name or label, "nodes": b.nodes, "outputs": b.outputs}
    returned = next(n for n in gm.graph.nodes if n.op == "output").args[0]
    out = facts.get(returned) if isinstance(returned, fx.Node) else None
    if len(b.outputs) == 1 and isinstance(out, TensorFact) and len(out.shape) == 2:
        graph["task"] = {"kind": "classification", "num_classes": out.shape[1]}
    try:
        g = load_graph(graph)
    except GraphError as e:
        raise ImportModelError(f"cannot import {label}: the graph it maps to is invalid (an importer bug): {e}") from e
    _verify(g, b.expected, label)
    g = layered_layout(g)
    return as_modules(g, module, label) if modules else g


_PERMUTE = "only a channel-last block that permutes back or image rows as a sequence"
_TRANSPOSE = "only ShuffleNet's channel shuffle"
# why a refused call has no op, for the calls users meet most; a label with " with " already says why
REASONS = {"nn.MultiheadAttention": "no attention op", "Tensor.permute": _PERMUTE, "torch.permute": _PERMUTE,
           "Tensor.expand": "no op copies across the batch", ATTR_LABEL: "a learned tensor outside a layer",
           "torch.transpose": _TRANSPOSE, "Tensor.transpose": _TRANSPOSE,
           "F.pad(mode='constant', value=-inf)": "a −inf pad is read only as the padding of a max pool right after it"}
_MAX_LISTED = 8  # a refusal lists the most frequent calls; the rest are counted
_MAX_LABEL = 100


def refusal(label: str, refused: Counter[str]) -> str:
    """One short sentence: each refused call once, most frequent first, with its count (and why, where known)."""
    def item(op: str, n: int) -> str:
        shown = op if len(op) <= _MAX_LABEL else op[:_MAX_LABEL - 1] + "…"
        reason = REASONS.get(op)
        return f"{shown} ({n}×{': ' + reason if reason else ''})"

    ranked = sorted(refused.items(), key=lambda kv: -kv[1])  # stable: equal counts keep the model's order
    listed = ", ".join(item(op, n) for op, n in ranked[:_MAX_LISTED])
    more = len(ranked) - _MAX_LISTED
    rest = f" and {more} more kind(s) of call ({sum(n for _, n in ranked[_MAX_LISTED:])}×)" if more > 0 else ""
    return f"cannot import {label}: unsupported ops {listed}{rest}. The catalog has no op or pattern for them."


def _verify(g: Graph, expected: dict[str, tuple[int, ...]], label: str) -> None:
    """The engine's shape check must pass and agree with what torch computed on every node."""
    r = check(g)
    if not r.ok:
        lines = "\n".join(f"  - {e}" for e in r.errors)
        raise ImportModelError(f"cannot import {label}: the imported graph fails the shape check:\n{lines}")
    wrong = [f"{gid}: engine {fmt_shape(r.nodes[gid].shape)}, torch {fmt_shape(shape)}"
             for gid, shape in expected.items() if r.nodes[gid].shape != tuple(shape)]
    if wrong:
        raise ImportModelError(f"cannot import {label}: the engine's shapes disagree with torch's at "
                               + "; ".join(wrong) + ".")


def source_of(node: Any) -> str | None:
    """The source module path a node was imported from (its ui.comment 'source: <path>'), or None."""
    comment = node.ui.comment if node.ui else None
    if comment and comment.startswith(SOURCE_PREFIX):
        return comment[len(SOURCE_PREFIX):].strip()
    return None


def module_attr_names(g: Graph) -> dict[str, str]:
    """Node id -> the attribute the compiled module stores it under (the same Namespace pass as codegen)."""
    ns = Namespace()
    return {nid: ns.create_name(nid, nid) for nid in check(g).order}


def map_state_dict(g: Any, source_state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The source model's state_dict renamed for `build_module(g)`: 'layer1.0.conv1.weight' -> 'layer1_0_conv1.weight'.

    Entries of source modules the graph does not use (e.g. GoogLeNet's auxiliary heads) are left out; load the
    result with `load_state_dict(..., strict=True)` to be told about anything the graph needs and did not get.
    A module the source calls twice gives both of its nodes the same weights. With module instances, a node inside
    a definition names its path inside the block and the instance the block (engine.fx.state_map).
    """
    g = load_graph(g)
    if uses_modules(g):  # inner nodes name their path inside the instance: composed along the nesting
        attrs, sources, nodes = flat_layer_paths(g), flat_sources(g), flatten(g).graph.nodes
    else:
        attrs, nodes = module_attr_names(g), g.nodes
        sources = {n.id: s for n in nodes if (s := source_of(n)) is not None}
    by_module: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
    for key, value in source_state_dict.items():
        path, _, leaf = key.rpartition(".")
        by_module[path][leaf] = value
    out: dict[str, torch.Tensor] = {}
    for n in nodes:
        src = sources.get(n.id)
        if src is None or n.id not in attrs:
            continue
        if src in source_state_dict:  # the node is one parameter of the source (LayerScale's self.layer_scale)
            out[attrs[n.id]] = source_state_dict[src]
            continue
        for leaf, value in by_module.get(src, {}).items():
            if n.op == "Conv2d" and leaf == "weight" and value.ndim == 2:
                value = value[:, :, None, None]  # a Linear over channel-last pixels, imported as the 1×1 Conv2d it is
            out[f"{attrs[n.id]}.{leaf}"] = value
    return out


__all__ = ["ImportModelError", "import_model", "load_source", "map_state_dict", "module_attr_names", "source_of"]
