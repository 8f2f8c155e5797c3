"""Composite blocks: graph snippets of catalog ops that the palette inserts (not new ops).

`make_block(name, prefix, input_id, **params)` returns (nodes, output_id): plain graph-file node dicts whose ids
all start with `prefix` and whose `ui` positions are offsets from (0, 0), with `ui.group = prefix` so the canvas
can draw the block as one group. The caller appends the nodes to its graph and wires `output_id` onwards.

Residual and bottleneck blocks need to know whether the shape changes (a 1×1 projection on the shortcut): pass
`input_shape=(C, H, W)` (the palette knows it from the live check) or set `projection` to "always"/"never".
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.catalog.registry import Param, coerce
from engine.errors import ParamError
from engine.layout import SIZES

DX, DY = SIZES.col_dx, SIZES.layer_dy  # a block's branches sit side by side like auto-laid-out cards


class Builder:
    """Accumulates nodes of one block: ids under the prefix, positions on a (branch, row) grid."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.nodes: list[dict] = []

    def add(self, name: str, op: str, inputs: list[str], col: float, row: int, **params: Any) -> str:
        nid = f"{self.prefix}_{name}"
        if any(n["id"] == nid for n in self.nodes):
            raise AssertionError(f"block node id {nid} used twice")
        self.nodes.append({"id": nid, "op": op, "params": params, "inputs": list(inputs),
                           "ui": {"x": float(col * DX), "y": float(row * DY), "group": self.prefix}})
        return nid

    def conv_unit(self, name: str, src: str, col: float, row: int, out: int, k: int = 1, stride: int = 1,
                  padding: int = 0, bn: bool = True, relu: bool = True, bn_eps: float = 1e-5) -> tuple[str, int]:
        """Conv (no bias when a BatchNorm follows) → BatchNorm2d → ReLU; returns (last id, next row)."""
        conv = {"out_channels": out, "kernel_size": k}
        if stride != 1:
            conv["stride"] = stride
        if padding:
            conv["padding"] = padding
        if bn:
            conv["bias"] = False
        x = self.add(f"{name}_conv", "Conv2d", [src], col, row, **conv)
        row += 1
        if bn:
            x = self.add(f"{name}_bn", "BatchNorm2d", [x], col, row, **({"eps": bn_eps} if bn_eps != 1e-5 else {}))
            row += 1
        if relu:
            x = self.add(f"{name}_relu", "ReLU", [x], col, row)
            row += 1
        return x, row


def _inception(b: Builder, x: str, p: dict) -> str:
    # torchvision's GoogLeNet: every conv is conv(no bias) → BatchNorm(eps 0.001) → ReLU; the "5×5" branch uses 3×3
    unit = dict(bn=p["batch_norm"], bn_eps=1e-3)
    k5 = p["branch3_kernel"]
    b1, r1 = b.conv_unit("b1", x, 0, 1, p["ch1x1"], **unit)
    b2, r2 = b.conv_unit("b2_reduce", x, 1, 1, p["ch3x3red"], **unit)
    b2, r2 = b.conv_unit("b2", b2, 1, r2, p["ch3x3"], k=3, padding=1, **unit)
    b3, r3 = b.conv_unit("b3_reduce", x, 2, 1, p["ch5x5red"], **unit)
    b3, r3 = b.conv_unit("b3", b3, 2, r3, p["ch5x5"], k=k5, padding=k5 // 2, **unit)
    pool = b.add("b4_pool", "MaxPool2d", [x], 3, 1, kernel_size=3, stride=1, padding=1, ceil_mode=True)
    b4, r4 = b.conv_unit("b4", pool, 3, 2, p["pool_proj"], **unit)
    return b.add("concat", "Concat", [b1, b2, b3, b4], 1.5, max(r1, r2, r3, r4))


def _needs_projection(p: dict, out: int, input_shape) -> bool:
    if p["projection"] != "auto":
        return p["projection"] == "always"
    if input_shape is None:
        raise ValueError("a residual block needs input_shape=(C, H, W) to decide whether the shortcut needs a 1×1 "
                         "projection, or projection='always'/'never'. Received: input_shape=None.")
    return p["stride"] != 1 or tuple(input_shape)[0] != out


def _shortcut(b: Builder, x: str, p: dict, out: int, input_shape) -> str:
    if not _needs_projection(p, out, input_shape):
        return x
    s, _ = b.conv_unit("proj", x, 1, 1, out, stride=p["stride"], relu=False)
    return s


def _residual(b: Builder, x: str, p: dict, input_shape=None) -> str:
    out = p["out_channels"]
    y, row = b.conv_unit("conv1", x, 0, 1, out, k=3, stride=p["stride"], padding=1)
    y, row = b.conv_unit("conv2", y, 0, row, out, k=3, padding=1, relu=False)
    s = _shortcut(b, x, p, out, input_shape)
    add = b.add("add", "Add", [y, s], 0.5, row)
    return b.add("relu", "ReLU", [add], 0.5, row + 1)


def _bottleneck(b: Builder, x: str, p: dict, input_shape=None) -> str:
    width, out = p["width"], p["width"] * p["expansion"]
    y, row = b.conv_unit("conv1", x, 0, 1, width)
    y, row = b.conv_unit("conv2", y, 0, row, width, k=3, stride=p["stride"], padding=1)  # stride on the 3×3 (v1.5)
    y, row = b.conv_unit("conv3", y, 0, row, out, relu=False)
    s = _shortcut(b, x, p, out, input_shape)
    add = b.add("add", "Add", [y, s], 0.5, row)
    return b.add("relu", "ReLU", [add], 0.5, row + 1)


def _fire(b: Builder, x: str, p: dict) -> str:
    sq, _ = b.conv_unit("squeeze", x, 0.5, 1, p["squeeze"], bn=False)
    e1, _ = b.conv_unit("expand1x1", sq, 0, 3, p["expand1x1"], bn=False)
    e3, _ = b.conv_unit("expand3x3", sq, 1, 3, p["expand3x3"], k=3, padding=1, bn=False)
    return b.add("concat", "Concat", [e1, e3], 0.5, 5)


def _dense(b: Builder, x: str, p: dict) -> str:
    # DenseNet: layer i sees the concatenation of the block's input and every earlier layer's growth_rate maps
    features = [x]
    row = 1
    for i in range(1, p["num_layers"] + 1):
        src = features[0] if len(features) == 1 else b.add(f"l{i}_in", "Concat", features, 0, row)
        row += len(features) > 1
        y = b.add(f"l{i}_bn1", "BatchNorm2d", [src], 0, row)
        y = b.add(f"l{i}_relu1", "ReLU", [y], 0, row + 1)
        y = b.add(f"l{i}_conv1", "Conv2d", [y], 0, row + 2, out_channels=p["bn_size"] * p["growth_rate"],
                  kernel_size=1, bias=False)
        y = b.add(f"l{i}_bn2", "BatchNorm2d", [y], 0, row + 3)
        y = b.add(f"l{i}_relu2", "ReLU", [y], 0, row + 4)
        y = b.add(f"l{i}_conv2", "Conv2d", [y], 0, row + 5, out_channels=p["growth_rate"], kernel_size=3,
                  padding=1, bias=False)
        features.append(y)
        row += 6
    return b.add("concat", "Concat", features, 0, row)


def _mlpconv(b: Builder, x: str, p: dict) -> str:
    # Network in Network: one spatial conv, then two 1×1 convs acting as a per-pixel MLP
    y, row = b.conv_unit("conv", x, 0, 1, p["out_channels"], k=p["kernel_size"], stride=p["stride"],
                         padding=p["padding"], bn=False)
    y, row = b.conv_unit("mlp1", y, 0, row, p["out_channels"], bn=False)
    y, _ = b.conv_unit("mlp2", y, 0, row, p["out_channels"], bn=False)
    return y


def _ch(name: str, default: int, help: str) -> Param:
    return Param(name, "int", default, help, min=1, max=65536)


PROJECTION = Param("projection", "choice", "auto", "Shortcut: 'auto' adds a 1×1 conv + BatchNorm when the shape "
                   "changes (needs the input shape), 'always' or 'never'.", choices=("auto", "always", "never"))
STRIDE = Param("stride", "int", 1, "Stride of the block (2 halves the height and width).", min=1, max=4)

BLOCKS: dict[str, tuple[str, list[Param], Callable]] = {
    "inception": ("Inception module (GoogLeNet v1)", [
        _ch("ch1x1", 64, "Filters of the 1×1 branch."),
        _ch("ch3x3red", 96, "1×1 filters reducing the input of the 3×3 branch."),
        _ch("ch3x3", 128, "Filters of the 3×3 branch."),
        _ch("ch5x5red", 16, "1×1 filters reducing the input of the third branch."),
        _ch("ch5x5", 32, "Filters of the third branch."),
        _ch("pool_proj", 32, "1×1 filters after the 3×3 max pool branch."),
        Param("branch3_kernel", "choice", 3, "Kernel of the third branch: 3 as torchvision's GoogLeNet, 5 as the "
              "paper.", choices=(3, 5)),
        Param("batch_norm", "bool", True, "Conv → BatchNorm → ReLU as torchvision (else conv with bias → ReLU).")],
        _inception),
    "residual": ("Residual block (basic, ResNet-18/34)", [
        _ch("out_channels", 64, "Filters of both 3×3 convs."), STRIDE, PROJECTION], _residual),
    "bottleneck": ("Bottleneck block (ResNet-50)", [
        _ch("width", 64, "Filters of the 1×1 reduce and the 3×3 conv."),
        Param("expansion", "int", 4, "Output channels = width · expansion.", min=1, max=16), STRIDE, PROJECTION],
        _bottleneck),
    "fire": ("Fire module (SqueezeNet)", [
        _ch("squeeze", 16, "1×1 squeeze filters."), _ch("expand1x1", 64, "1×1 expand filters."),
        _ch("expand3x3", 64, "3×3 expand filters.")], _fire),
    "dense": ("Dense block (DenseNet)", [
        Param("num_layers", "int", 6, "Layers; each adds growth_rate channels.", min=1, max=64),
        _ch("growth_rate", 32, "Channels each layer adds."),
        Param("bn_size", "int", 4, "The 1×1 bottleneck has bn_size · growth_rate filters.", min=1, max=16)],
        _dense),
    "mlpconv": ("NiN mlpconv block", [
        _ch("out_channels", 96, "Filters of all three convs."),
        Param("kernel_size", "int", 11, "Kernel of the spatial conv.", min=1, max=31),
        Param("stride", "int", 4, "Stride of the spatial conv.", min=1, max=8),
        Param("padding", "int", 0, "Padding of the spatial conv.", min=0, max=15)], _mlpconv),
}
NEEDS_SHAPE = {"residual", "bottleneck"}


def list_blocks() -> list[dict[str, Any]]:
    """[{name, title, params: [Param, ...]}] for the palette."""
    return [{"name": name, "title": title, "params": list(params)} for name, (title, params, _) in BLOCKS.items()]


def make_block(name: str, prefix: str, input_id: str, input_shape: tuple | None = None,
               **params: Any) -> tuple[list[dict], str]:
    """The block's nodes (ids under `prefix`, ui offsets from (0, 0)) fed by `input_id`, and its output id."""
    if name not in BLOCKS:
        raise ValueError(f"unknown block '{name}'. Blocks: {', '.join(BLOCKS)}.")
    title, specs, build = BLOCKS[name]
    known = {p.name for p in specs}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for the {title}. It takes: {', '.join(sorted(known))}.")
    try:
        p = {s.name: coerce(s, params.get(s.name, s.default)) for s in specs}
    except ParamError as e:
        raise ValueError(f"{title}: {e}") from None
    b = Builder(prefix)
    out = build(b, input_id, p, input_shape) if name in NEEDS_SHAPE else build(b, input_id, p)
    return b.nodes, out


MODULE_NAMES = {"inception": "Inception", "residual": "BasicBlock", "bottleneck": "Bottleneck", "fire": "Fire",
                "dense": "DenseBlock", "mlpconv": "MlpConv"}


def block_definition(name: str, input_shape: tuple | None = None, **params: Any) -> tuple[str, dict]:
    """A composite block as a module definition (graph format v2): (suggested definition name, definition).
    The block's nodes keep their ids without the prefix (branch1_conv, ...) and read the module input 'x'."""
    nodes, out = make_block(name, "b", "x", input_shape, **params)
    local = {n["id"]: n["id"][2:] for n in nodes}
    inner = []
    for n in nodes:
        m = {"id": local[n["id"]], "op": n["op"], "inputs": [local.get(s, s) for s in n["inputs"]]}
        if n["params"]:
            m["params"] = n["params"]
        m["ui"] = {"x": n["ui"]["x"], "y": n["ui"]["y"]}
        inner.append(m)
    return MODULE_NAMES[name], {"args": {}, "inputs": ["x"], "nodes": inner, "outputs": [local[out]],
                                "doc": BLOCKS[name][0]}


def insert_block_module(g: dict, name: str, instance_id: str, input_id: str, input_shape: tuple | None = None,
                        **params: Any) -> dict:
    """The design with the block inserted as one instance node reading `input_id`. An identical definition already
    in the design is used again (two identical Fire modules share one definition); otherwise a new one is added,
    named after the block (Fire, Fire_2, ... when the name is taken by a different definition)."""
    base, definition = block_definition(name, input_shape, **params)
    g = {**g, "version": 2, "modules": dict(g.get("modules", {})), "nodes": list(g.get("nodes", []))}
    dname = next((k for k, v in g["modules"].items() if v == definition), None)
    if dname is None:
        dname, i = base, 2
        while dname in g["modules"]:
            dname = f"{base}_{i}"
            i += 1
        g["modules"][dname] = definition
    if any(n["id"] == instance_id for n in g["nodes"]):
        raise ValueError(f"there is already a node '{instance_id}'. Choose another id for the block.")
    g["nodes"].append({"id": instance_id, "op": dname, "inputs": [input_id]})
    return g
