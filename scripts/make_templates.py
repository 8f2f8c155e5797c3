"""Regenerate the classic-network templates in assets/templates (graph files + their index.json entries).

    python scripts/make_templates.py               # every template below
    python scripts/make_templates.py resnet18 nin  # only these

The torchvision ones are imported with engine.import_model (weights=None: nothing is downloaded) at 3×224×224 with
1000 classes, then given readable ids (conv1, layer1_0, fire2, inception3a, denseblock1, ...). Templates use
modules (graph format v2, docs/modules.md) where the architecture has a repeated block: ResNet-18's BasicBlocks
(BasicBlock and BasicBlockDownsample instances layer1_0 ... layer4_1, exported as torchvision writes it), GoogLeNet's
Inception modules (and its BasicConv2d stem), SqueezeNet's Fire modules, DenseNet-121's dense blocks (each a module
of DenseLayer instances and the concatenations between them), NiN's mlpconv blocks and the U-Net's double
conv-BN-ReLU block (one DoubleConv used at five widths through its out_channels argument). AlexNet, VGG-16, the
LeNet/MNIST CNNs and the other small hand-written networks have no repeated block class and stay flat.

Every imported node keeps a "source: <module path>" comment: a flat node the full path (layer4.1.bn2), an instance
its block's path (layer1.0) and a node inside a definition its path inside the block (conv1, downsample.0), so
engine.fx.importer.map_state_dict maps torchvision weights onto the template by composing them. NiN, the U-Net and
the LSTMs are written here by hand. Positions come from engine.layout (each definition is laid out on its own),
and each index entry's `params` is the engine's count (tests check it against torch).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch.fx as fx  # noqa: E402
import torch.nn as nn  # noqa: E402

from engine.catalog import get_op  # noqa: E402
from engine.codegen import Namespace  # noqa: E402
from engine.fx.importer import import_model, load_source, source_of  # noqa: E402
from engine.graph import Graph, load_graph, save_graph  # noqa: E402
from engine.layout import layered_layout, layout_positions  # noqa: E402
from engine.module_edit import extract_modules  # noqa: E402
from engine.shapes import check  # noqa: E402
from engine.templates import INDEX, TEMPLATES_DIR  # noqa: E402

TORCHVISION = {  # name: (title, description)
    "alexnet": ("AlexNet", "Krizhevsky et al. 2012 (torchvision's single-GPU variant): five convolutions, three "
                "fully connected layers with dropout. 3×224×224 → 1000 classes."),
    "vgg16": ("VGG-16", "Simonyan & Zisserman 2014: thirteen 3×3 convolutions in five stages, three fully "
              "connected layers. 3×224×224 → 1000 classes."),
    "googlenet": ("GoogLeNet (Inception v1)", "Szegedy et al. 2014, without the auxiliary heads: nine Inception "
                  "modules (1×1, 1×1→3×3, 1×1→3×3, pool→1×1 branches, concatenated). 3×224×224 → 1000 classes."),
    "resnet18": ("ResNet-18", "He et al. 2015: eight basic residual blocks (two 3×3 convolutions + identity or 1×1 "
                 "projection shortcut), global average pooling. 3×224×224 → 1000 classes."),
    "squeezenet1_0": ("SqueezeNet 1.0", "Iandola et al. 2016: eight Fire modules (1×1 squeeze, 1×1 and 3×3 expand, "
                      "concatenated), a 1×1 convolution classifier and global pooling. 3×224×224 → 1000 classes."),
    "densenet121": ("DenseNet-121", "Huang et al. 2017: four dense blocks (each layer BN-ReLU-1×1-BN-ReLU-3×3 "
                    "concatenated onto all before it, growth 32) joined by transitions. 3×224×224 → 1000 classes."),
}
# torchvision networks whose repeated blocks arrive as module instances (the others have no repeated block class:
# AlexNet and VGG-16 are plain Sequentials, so they stay flat)
MODULAR = ("resnet18", "googlenet", "squeezenet1_0", "densenet121")
HANDMADE = {
    "nin": ("Network in Network (CIFAR-10)", "Lin et al. 2013: three mlpconv blocks (a conv then two 1×1 convs), "
            "global average pooling instead of fully connected layers. 3×32×32 → 10 classes."),
    "unet": ("U-Net (MNIST segmentation)", "A small U-Net: two down steps (conv-BN-ReLU ×2, max pool), two up steps "
             "(transposed conv, skip Concat, conv-BN-ReLU ×2), a 1×1 head. 1×64×64 → 11×64×64 (10 digits + "
             "background)."),
    "lstm_rows": ("LSTM over MNIST rows", "Reads the image row by row: 28 steps of 28 pixels into an LSTM with 128 "
                  "hidden units; its last step feeds a fully connected layer. 1×28×28 → 10 classes."),
    "ptb_lstm_small": ("PTB LSTM — small", "Zaremba et al. 2014 / the TensorFlow PTB tutorial, small: 20 word ids → "
                       "embedding 200 → 2 stacked stateful LSTMs of 200 → scores over 10,000 words at every step. "
                       "SGD lr 1.0 halved each epoch after the 4th, clip 5, uniform ±0.1 init, batch 20, 13 epochs."),
    "ptb_lstm_medium": ("PTB LSTM — medium", "Zaremba et al. 2014, medium: 35 word ids → embedding 650 → dropout "
                        "0.5 → 2 stacked stateful LSTMs of 650 (dropout 0.5 between) → dropout 0.5 → 10,000 words. "
                        "SGD lr 1.0 ×0.8 each epoch after the 6th, clip 5, uniform ±0.05 init, batch 20, 39 epochs."),
    "digit_localiser": ("Digit localiser", "Classification + localisation on mnist-locate: three 3×3 conv-BN-ReLU-"
                        "pool blocks, FC 128, then two outputs: 10 class logits and 4 box numbers. 1×56×56."),
    "tiny_grid_detector": ("Tiny grid detector", "Single-stage grid detector on mnist-detect: four 3×3 conv-BN-ReLU-"
                           "pool blocks down to a 6×6 grid (16 px cells), a 3×3 conv of 128 and a DetectionHead: "
                           "15×6×6 cells of objectness, box and 10 class scores. 1×96×96."),
}
# the training recipe a template comes with (TrainConfig fields), written into index.json as "train"
TRAIN = {
    "ptb_lstm_small": {"data": "ptb-sample", "epochs": 13, "batch_size": 20, "optimizer": "sgd", "lr": 1.0,
                       "momentum": 0.0, "schedule": "constant", "lr_decay": 0.5, "lr_decay_after": 4,
                       "clip_grad_norm": 5.0, "init_uniform": 0.1, "loss_sum_steps": True},
    "ptb_lstm_medium": {"data": "ptb-sample", "epochs": 39, "batch_size": 20, "optimizer": "sgd", "lr": 1.0,
                        "momentum": 0.0, "schedule": "constant", "lr_decay": 0.8, "lr_decay_after": 6,
                        "clip_grad_norm": 5.0, "init_uniform": 0.05, "loss_sum_steps": True},
    # measured on CPU (tests/engine/train/test_box_tasks.py): a short run at this lr and batch reaches a useful mAP
    "tiny_grid_detector": {"data": "mnist-detect", "epochs": 30, "batch_size": 32, "optimizer": "adam",
                           "lr": 5e-3, "schedule": "onecycle"},
}
_LEAF_NAMES = {"Conv2d": "conv", "ReLU": "relu", "MaxPool2d": "pool", "AvgPool2d": "pool", "Linear": "fc",
               "Dropout": "dropout", "AdaptiveAvgPool2d": "avgpool", "BatchNorm2d": "bn"}


# ---- readable ids for the imported networks --------------------------------------------------------------------

def _prefixes(model: nn.Module) -> dict[str, str]:
    """Children of `features`/`classifier` Sequentials -> readable names: features.0 -> conv1, features.3 -> fire1."""
    out: dict[str, str] = {}
    counters: Counter[str] = Counter()
    for top_name, top in model.named_children():
        if not isinstance(top, nn.Sequential) or top_name not in ("features", "classifier"):
            continue  # resnet's layer1.0.conv1 already reads well
        for child_name, child in top.named_children():
            if not child_name.isdigit():
                out[f"{top_name}.{child_name}"] = child_name
                continue
            kind = _LEAF_NAMES.get(type(child).__name__, type(child).__name__.lower())
            counters[kind] += 1
            out[f"{top_name}.{child_name}"] = f"{kind}{counters[kind]}"
    return out


def _readable(path: str, prefixes: dict[str, str]) -> str:
    for p in sorted(prefixes, key=len, reverse=True):
        if path == p or path.startswith(p + "."):
            path = prefixes[p] + path[len(p):]
            break
    return path.replace(".", "_")


def rename_nodes(g: Graph, mapping: dict[str, str]) -> Graph:
    """A copy of g with ids renamed everywhere they occur (inputs, outputs, node-valued params)."""
    data = g.to_dict()
    for n in data["nodes"]:
        n["id"] = mapping.get(n["id"], n["id"])
        n["inputs"] = [mapping.get(i, i) for i in n.get("inputs", [])]
        spec = get_op(n["op"])
        for name, value in n.get("params", {}).items():
            if spec.param(name).type == "node":
                n["params"][name] = mapping.get(value, value)
    data["outputs"] = [mapping.get(o, o) for o in data["outputs"]]
    return load_graph(data)


def _call_sites(model: nn.Module) -> dict[str, str]:
    """fx node name -> the path of the innermost module whose forward made the call ('' at the top level)."""
    sites = {}
    for node in fx.symbolic_trace(model).graph.nodes:
        stack = node.meta.get("nn_module_stack") or {}
        paths = [(v[0] if isinstance(v, tuple) else k).split("@")[0] for k, v in stack.items()]
        if node.op == "call_module" and paths and paths[-1] == node.target:
            paths = paths[:-1]
        sites[node.name] = paths[-1] if paths else ""
    return sites


def readable_ids(g: Graph, model: nn.Module) -> Graph:
    """Module nodes are named after their module path, a function call after the module it was called in
    (F.relu inside inception3a.branch2.0 -> inception3a_branch2_0_relu; layer1.0's residual add ->
    layer1_0_add), and the input is `input`."""
    prefixes = _prefixes(model)
    sites = _call_sites(model.eval())  # the mode import_model traces in
    ns = Namespace()
    mapping = {}
    for n in g.nodes:
        src = source_of(n)
        if n.op == "Input":
            mapping[n.id] = "input" if sum(m.op == "Input" for m in g.nodes) == 1 else n.id
            continue
        if src is not None:
            name = _readable(src, prefixes)
        elif sites.get(n.id):
            name = f"{_readable(sites[n.id], prefixes)}_{re.sub(r'_[0-9]+$', '', n.id)}"
        else:
            name = n.id
        mapping[n.id] = ns.create_name(name, n.id)
    g = rename_nodes(g, mapping)
    for n in g.nodes:  # groups read like the ids: features.3 -> fire1, layer1.0 -> layer1_0
        if n.ui and n.ui.group:
            n.ui.group = _readable(n.ui.group, prefixes)
    return g


def torchvision_template(name: str) -> Graph:
    title = TORCHVISION[name][0]
    model, _ = load_source(f"torchvision:{name}")
    g = readable_ids(import_model(model, (3, 224, 224), name=title), model)
    return torchvision_modules(g, model, nested=name == "densenet121") if name in MODULAR else g


# ---- modules: the blocks the architecture repeats -----------------------------------------------------------------

def _class_name(model: nn.Module, path: str) -> str:
    """The block's class as a module name, like the importer names it: _DenseBlock -> DenseBlock."""
    name = type(model.get_submodule(path)).__name__.lstrip("_")
    return name[:1].upper() + name[1:]


def torchvision_modules(g: Graph, model: nn.Module, nested: bool = False) -> Graph:
    """Every block the importer grouped (ui.group: the outermost submodule with a forward of its own) becomes an
    instance of a definition named after its class; `nested`: DenseNet's dense layers first become DenseLayer
    instances inside their dense block (the concatenation of the earlier features stays in the block)."""
    prefixes = _prefixes(model)
    paths = {_readable(p, prefixes): p for p, _ in model.named_modules() if p}  # readable id -> torch path
    sources = {n.id: s for n in g.nodes if (s := source_of(n))}
    levels: list[dict[str, list[str]]] = []
    if nested:
        layers: dict[str, list[str]] = {}
        for n in g.nodes:
            parts = sources.get(n.id, "").split(".")  # features.denseblock1.denselayer1.norm1
            if len(parts) == 4 and parts[2].startswith("denselayer"):
                layers.setdefault(_readable(".".join(parts[:3]), prefixes), []).append(n.id)
        levels.append(layers)
    blocks: dict[str, list[str]] = {}
    for n in g.nodes:
        if n.ui and n.ui.group:
            blocks.setdefault(n.ui.group, []).append(n.id)
    levels.append(blocks)
    g = as_instances(g, levels, {iid: (_class_name(model, paths[iid]), paths[iid]) for lv in levels for iid in lv},
                     sources)
    return rename_args(g, ARG_NAMES)


# module arguments named as torchvision's constructors name them (extract_modules names them after the param)
ARG_NAMES = {
    "Fire": {"out_channels": "squeeze_planes", "expand1x1_out_channels": "expand_planes"},
    "Inception": {"out_channels": "ch1x1", "branch2_0_conv_out_channels": "ch3x3red",
                  "branch2_1_conv_out_channels": "ch3x3", "branch3_0_conv_out_channels": "ch5x5red",
                  "branch3_1_conv_out_channels": "ch5x5", "branch4_1_conv_out_channels": "pool_proj"},
}


def rename_args(g: Graph, names: dict[str, dict[str, str]]) -> Graph:
    """Module arguments renamed in the definition ("$old" -> "$new") and in every instance's params."""
    d = g.to_dict()
    for module, renames in names.items():
        definition = d["modules"].get(module)
        if definition is None:
            continue
        definition["args"] = {renames.get(a, a): v for a, v in definition["args"].items()}
        for m in definition["nodes"]:
            m["params"] = {k: f"${renames[v[1:]]}" if isinstance(v, str) and v[1:] in renames else v
                           for k, v in m.get("params", {}).items()}
        for n in d["nodes"]:
            if n["op"] == module:
                n["params"] = {renames.get(k, k): v for k, v in n.get("params", {}).items()}
    return load_graph(d)


def as_instances(g: Graph, levels: list[dict[str, list[str]]], names: dict[str, tuple[str, str]],
                 sources: dict[str, str]) -> Graph:
    """Groups of nodes -> module instances, level by level (a later level may hold instances of an earlier one).
    names: instance id -> (definition name, its source module path); sources: node id -> source module path.
    Each instance keeps "source: <path>" and each inner node the path relative to its instance ("source: conv1"),
    so map_state_dict composes them back into the source's names."""
    d = g.to_dict()
    moved: dict[str, str] = {}  # node id -> the instance it went into
    for level in levels:
        groups = {}
        for iid, ids in level.items():
            ids = list(dict.fromkeys(moved.get(i, i) for i in ids))
            groups[iid] = (names[iid][0], ids)
        before = {n["id"]: n for n in d["nodes"]}
        d = extract_modules(d, groups)
        rel: dict[str, list[str | None]] = {}  # definition -> the relative source of each inner node, by position
        for iid, (_, ids) in groups.items():
            inst = next(n for n in d["nodes"] if n["id"] == iid)
            path = names[iid][1]
            inst.setdefault("ui", {})["comment"] = f"source: {path}"
            members = [i for i in before if i in set(ids)]  # file order: the order of the definition's nodes
            want = [sources[i][len(path) + 1:] if sources.get(i, "").startswith(path + ".") else None
                    for i in members]
            if rel.setdefault(inst["op"], want) != want:
                raise SystemExit(f"{iid}: its layers come from other paths than the other {inst['op']}s' ({want})")
            for i in ids:
                moved[i] = iid
            sources[iid] = path
        for dname, want in rel.items():
            for m, r in zip(d["modules"][dname]["nodes"], want, strict=True):
                if r is not None:
                    m.setdefault("ui", {})["comment"] = f"source: {r}"
    for definition in d["modules"].values():  # each definition laid out on its own (drawn beside an expanded card)
        pos = layout_positions(definition["nodes"])
        for m in definition["nodes"]:
            m.setdefault("ui", {})["x"], m["ui"]["y"] = pos[m["id"]]
    return layered_layout(load_graph(d))


# ---- hand-written networks -------------------------------------------------------------------------------------

class Builder:
    """Appends nodes; each takes the previous node as input unless told otherwise."""

    def __init__(self, name: str, shape: list[int]):
        self.name = name
        self.nodes: list[dict[str, Any]] = [{"id": "input", "op": "Input", "params": {"shape": shape}}]
        self.last = "input"
        self.modules: dict[str, dict[str, Any]] = {}

    def add(self, nid: str, op: str, inputs: list[str] | None = None, group: str | None = None, **params) -> str:
        node: dict[str, Any] = {"id": nid, "op": op, "params": params, "inputs": inputs or [self.last]}
        if group:
            node["ui"] = {"group": group}
        self.nodes.append(node)
        self.last = nid
        return nid

    def graph(self, kind: str, num_classes: int) -> Graph:
        g = {"format": "convas-graph", "version": 2 if self.modules else 1, "name": self.name, "nodes": self.nodes,
             "outputs": [self.last], "task": {"kind": kind, "num_classes": num_classes}}
        if self.modules:
            g["modules"] = self.modules
            for definition in self.modules.values():
                pos = layout_positions(definition["nodes"])
                for m in definition["nodes"]:
                    m["ui"] = {"x": pos[m["id"]][0], "y": pos[m["id"]][1]}
        return layered_layout(load_graph(g))


def chain(*layers: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A definition's nodes as a chain from its input x: (id, op, params) each reading the one before."""
    out, last = [], "x"
    for nid, op, params in layers:
        out.append({"id": nid, "op": op, "params": params, "inputs": [last]})
        last = nid
    return out


def nin() -> Graph:
    """The CIFAR-10 NiN of the paper's Caffe model: 192-160-96, 192-192-192, 192-192-10 mlpconvs, each an
    instance of one Mlpconv module (a k×k conv, then the two 1×1 convs of its "micro network")."""
    b = Builder(HANDMADE["nin"][0], [3, 32, 32])
    b.modules["Mlpconv"] = {
        "args": {"out_channels": 192, "mlp1_channels": 160, "mlp2_channels": 96, "kernel_size": 5, "padding": 2},
        "inputs": ["x"], "doc": "A k×k convolution followed by a two-layer perceptron per pixel (two 1×1 convs).",
        "nodes": chain(("conv1", "Conv2d", {"out_channels": "$out_channels", "kernel_size": "$kernel_size",
                                            "padding": "$padding"}), ("relu1", "ReLU", {}),
                       ("conv2", "Conv2d", {"out_channels": "$mlp1_channels", "kernel_size": 1}), ("relu2", "ReLU", {}),
                       ("conv3", "Conv2d", {"out_channels": "$mlp2_channels", "kernel_size": 1}), ("relu3", "ReLU", {})),
        "outputs": ["relu3"]}
    blocks = [(5, 2, (192, 160, 96), "MaxPool2d"), (5, 2, (192, 192, 192), "AvgPool2d"), (3, 1, (192, 192, 10), None)]
    for i, (k, pad, (c1, c2, c3), pool) in enumerate(blocks, start=1):
        b.add(f"mlpconv{i}", "Mlpconv", out_channels=c1, mlp1_channels=c2, mlp2_channels=c3, kernel_size=k,
              padding=pad)
        if pool:
            b.add(f"pool{i}", pool, kernel_size=3, stride=2, ceil_mode=True)  # 32 → 16 → 8
            b.add(f"dropout{i}", "Dropout", p=0.5)
    b.add("gap", "GlobalAvgPool2d")  # 10×8×8 → 10×1×1: one average per class map
    b.add("flatten", "Flatten")
    return b.graph("classification", 10)


def unet() -> Graph:
    b = Builder(HANDMADE["unet"][0], [1, 64, 64])
    conv = {"out_channels": "$out_channels", "kernel_size": 3, "padding": 1, "bias": False}
    b.modules["DoubleConv"] = {  # one definition, five widths: 16, 32, 64 down, 32, 16 up
        "args": {"out_channels": 16}, "inputs": ["x"], "doc": "(3×3 conv, batch norm, ReLU) twice.",
        "nodes": chain(("conv1", "Conv2d", conv), ("bn1", "BatchNorm2d", {}), ("relu1", "ReLU", {}),
                       ("conv2", "Conv2d", conv), ("bn2", "BatchNorm2d", {}), ("relu2", "ReLU", {})),
        "outputs": ["relu2"]}

    def double_conv(prefix: str, width: int) -> str:
        return b.add(prefix, "DoubleConv", out_channels=width)

    enc1 = double_conv("enc1", 16)                                            # 16×64×64
    b.add("pool1", "MaxPool2d", kernel_size=2)                                 # 16×32×32
    enc2 = double_conv("enc2", 32)                                            # 32×32×32
    b.add("pool2", "MaxPool2d", kernel_size=2)                                 # 32×16×16
    double_conv("bottleneck", 64)                                              # 64×16×16
    up2 = b.add("up2", "ConvTranspose2d", out_channels=32, kernel_size=2, stride=2)   # 32×32×32
    b.add("skip2", "Concat", [up2, enc2])                                      # 64×32×32
    double_conv("dec2", 32)
    up1 = b.add("up1", "ConvTranspose2d", out_channels=16, kernel_size=2, stride=2)   # 16×64×64
    b.add("skip1", "Concat", [up1, enc1])                                      # 32×64×64
    double_conv("dec1", 16)
    b.add("head", "Conv2d", out_channels=11, kernel_size=1)                    # 11×64×64: a score per class and pixel
    return b.graph("segmentation", 11)


def lstm_rows() -> Graph:
    b = Builder(HANDMADE["lstm_rows"][0], [1, 28, 28])
    b.add("rows", "ToSequence")                               # 28 steps × 28 features
    b.add("lstm", "LSTM", hidden_size=128)                    # the last step: 128
    b.add("fc", "Linear", out_features=10)
    return b.graph("classification", 10)


def ptb_lstm(name: str, steps: int, width: int, dropout: float) -> Graph:
    """The PTB word model: token ids → embedding → 2 stateful LSTM layers → a linear over the vocabulary."""
    vocab = 10_000
    b = Builder(HANDMADE[name][0], [steps])
    b.nodes[0]["params"]["dtype"] = "int64"
    b.add("embed", "Embedding", num_embeddings=vocab, embedding_dim=width)        # steps × width
    if dropout:
        b.add("embed_drop", "Dropout", p=dropout)
    b.add("lstm", "LSTM", hidden_size=width, num_layers=2, dropout=dropout, return_sequence=True, stateful=True)
    if dropout:
        b.add("lstm_drop", "Dropout", p=dropout)
    b.add("decoder", "Linear", out_features=vocab)                               # steps × 10,000 word scores
    return b.graph("language_model", vocab)


def _conv_bn_relu(b: Builder, prefix: str, width: int, pool: bool = True) -> str:
    b.add(f"{prefix}_conv", "Conv2d", group=prefix, out_channels=width, kernel_size=3, padding=1, bias=False)
    b.add(f"{prefix}_bn", "BatchNorm2d", group=prefix)
    b.add(f"{prefix}_relu", "ReLU", group=prefix)
    if pool:
        b.add(f"{prefix}_pool", "MaxPool2d", group=prefix, kernel_size=2)
    return b.last


def digit_localiser() -> Graph:
    b = Builder(HANDMADE["digit_localiser"][0], [1, 56, 56])
    for i, width in enumerate((16, 32, 64), 1):                # 16×28×28, 32×14×14, 64×7×7
        _conv_bn_relu(b, f"block{i}", width)
    b.add("flatten", "Flatten")                                 # 3136: keeps where things are
    b.add("fc", "Linear", out_features=128)
    trunk = b.add("fc_relu", "ReLU")
    b.add("classes", "Linear", [trunk], out_features=10)        # 10 class logits
    b.add("box", "Linear", [trunk], out_features=4)             # cx, cy, w, h (through a sigmoid)
    g = b.graph("localisation", 10)
    return layered_layout(g.model_copy(update={"outputs": ["classes", "box"]}))


def tiny_grid_detector() -> Graph:
    b = Builder(HANDMADE["tiny_grid_detector"][0], [1, 96, 96])
    for i, width in enumerate((16, 32, 64, 64), 1):            # 96 → 48 → 24 → 12 → 6
        _conv_bn_relu(b, f"block{i}", width)
    _conv_bn_relu(b, "block5", 128, pool=False)                 # 128×6×6
    b.add("head", "DetectionHead", num_classes=10)              # 15×6×6
    return b.graph("detection", 10)


BUILDERS = {"nin": nin, "unet": unet, "lstm_rows": lstm_rows,
            "ptb_lstm_small": lambda: ptb_lstm("ptb_lstm_small", 20, 200, 0.0),
            "ptb_lstm_medium": lambda: ptb_lstm("ptb_lstm_medium", 35, 650, 0.5),
            "digit_localiser": digit_localiser, "tiny_grid_detector": tiny_grid_detector}


def make(name: str) -> Graph:
    return torchvision_template(name) if name in TORCHVISION else BUILDERS[name]()


def main(argv: list[str] | None = None) -> int:
    names = list(TORCHVISION) + list(HANDMADE)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"templates to regenerate (default: all): {', '.join(names)}")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in names]
    if unknown:
        ap.error(f"unknown template(s) {', '.join(unknown)}. Choose from: {', '.join(names)}.")
    index = json.loads(INDEX.read_text(encoding="utf-8"))
    for name in args.names or names:
        g = make(name)
        report = check(g)
        assert report.ok, report.errors
        save_graph(g, TEMPLATES_DIR / f"{name}.json")
        title, description = {**TORCHVISION, **HANDMADE}[name]
        index[name] = {"title": title, "params": report.total_params, "description": description}
        if name in TRAIN:
            index[name]["train"] = TRAIN[name]
        print(f"{name:14s} {len(g.nodes):4d} nodes {report.total_params:>12,} parameters")
    tmp = INDEX.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(INDEX)
    return 0


if __name__ == "__main__":
    sys.exit(main())
