"""Converters for layers: nn modules and their functional twins (activations, conv, linear, norm, pool, dropout).

Each converter reads the torch object's own settings and writes them as the catalog op's parameters; anything the
catalog cannot express (a padding mode, momentum=None, ...) is refused by name rather than approximated.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.fx.convert import (
    Call,
    Emit,
    Indices,
    Unsupported,
    need,
    on_function,
    on_method,
    on_module,
    only_input,
    pair,
)

# ---- element-wise activations ----------------------------------------------------------------------------------

_ACTIVATIONS = {nn.ReLU: "ReLU", nn.ReLU6: "ReLU6", nn.Sigmoid: "Sigmoid", nn.Tanh: "Tanh", nn.SiLU: "SiLU",
                nn.Hardswish: "Hardswish", nn.Hardsigmoid: "Hardsigmoid"}


@on_module(*_ACTIVATIONS)
def activation_module(c: Call) -> Emit:
    return Emit(_ACTIVATIONS[type(c.module)], {}, [only_input(c)])


@on_module(nn.LeakyReLU)
def leaky_relu_module(c: Call) -> Emit:
    return Emit("LeakyReLU", {"negative_slope": c.module.negative_slope}, [only_input(c)])


@on_module(nn.ELU)
def elu_module(c: Call) -> Emit:
    return Emit("ELU", {"alpha": c.module.alpha}, [only_input(c)])


@on_module(nn.GELU)
def gelu_module(c: Call) -> Emit:
    return Emit("GELU", {"approximate": c.module.approximate}, [only_input(c)])


_ACT_FUNCS = {F.relu: "ReLU", torch.relu: "ReLU", torch.relu_: "ReLU", F.relu_: "ReLU", F.relu6: "ReLU6",
              torch.sigmoid: "Sigmoid", F.sigmoid: "Sigmoid", torch.tanh: "Tanh", F.tanh: "Tanh", F.silu: "SiLU",
              F.hardswish: "Hardswish", F.hardsigmoid: "Hardsigmoid"}


@on_function(*_ACT_FUNCS)
def activation_function(c: Call) -> Emit:
    a = c.bind("input, inplace=False")
    return Emit(_ACT_FUNCS[c.node.target], {}, [c.tensor(a["input"])])


_ACT_METHODS = {"relu": "ReLU", "relu_": "ReLU", "sigmoid": "Sigmoid", "sigmoid_": "Sigmoid", "tanh": "Tanh",
                "tanh_": "Tanh"}


@on_method(*_ACT_METHODS)
def activation_method(c: Call) -> Emit:
    a = c.bind("input")
    return Emit(_ACT_METHODS[c.node.target], {}, [c.tensor(a["input"])])


@on_function(F.leaky_relu)
def leaky_relu_function(c: Call) -> Emit:
    a = c.bind("input, negative_slope=0.01, inplace=False")
    return Emit("LeakyReLU", {"negative_slope": c.const(a["negative_slope"])}, [c.tensor(a["input"])])


@on_function(F.elu)
def elu_function(c: Call) -> Emit:
    a = c.bind("input, alpha=1.0, inplace=False")
    return Emit("ELU", {"alpha": c.const(a["alpha"])}, [c.tensor(a["input"])])


@on_function(F.gelu)
def gelu_function(c: Call) -> Emit:
    a = c.bind("input, approximate='none'")
    return Emit("GELU", {"approximate": c.const(a["approximate"])}, [c.tensor(a["input"])])


def _softmax(c: Call, op: str, x: Any, dim: Any) -> Emit:
    dim = c.const(dim)
    if dim is None:
        raise Unsupported(f"{c.label} without dim")
    rank = len(c.full_shape(x))
    return Emit(op, {"dim": c.feature_dim(dim, rank)}, [c.tensor(x)])


@on_module(nn.Softmax, nn.LogSoftmax)
def softmax_module(c: Call) -> Emit:
    return _softmax(c, type(c.module).__name__, only_input(c), c.module.dim)


@on_function(F.softmax, F.log_softmax, torch.softmax, torch.log_softmax)
def softmax_function(c: Call) -> Emit:
    a = c.bind("input, dim=None, _stacklevel=3, dtype=None")
    if c.const(a["dtype"]) is not None:
        raise Unsupported(f"{c.label}(dtype=…)")
    op = "LogSoftmax" if "log" in c.node.target.__name__ else "Softmax"
    return _softmax(c, op, a["input"], a["dim"])


@on_method("softmax", "log_softmax")
def softmax_method(c: Call) -> Emit:
    a = c.bind("input, dim=None")
    return _softmax(c, "LogSoftmax" if c.node.target == "log_softmax" else "Softmax", a["input"], a["dim"])


# ---- convolution and linear ------------------------------------------------------------------------------------

def _zeros_padding(c: Call) -> None:
    if c.module.padding_mode != "zeros":
        raise Unsupported(f"{c.label}(padding_mode={c.module.padding_mode!r})")


@on_module(nn.Conv2d)
def conv2d(c: Call) -> Emit:
    m = c.module
    _zeros_padding(c)
    padding = m.padding if isinstance(m.padding, str) else pair(m.padding)
    return Emit("Conv2d", {"out_channels": m.out_channels, "kernel_size": pair(m.kernel_size),
                           "stride": pair(m.stride), "padding": padding, "dilation": pair(m.dilation),
                           "groups": m.groups, "bias": m.bias is not None},
                [only_input(c)], keep=("out_channels", "kernel_size"))


@on_module(nn.ConvTranspose2d)
def conv_transpose2d(c: Call) -> Emit:
    m = c.module
    _zeros_padding(c)
    return Emit("ConvTranspose2d", {"out_channels": m.out_channels, "kernel_size": pair(m.kernel_size),
                                    "stride": pair(m.stride), "padding": pair(m.padding),
                                    "output_padding": pair(m.output_padding), "dilation": pair(m.dilation),
                                    "groups": m.groups, "bias": m.bias is not None},
                [only_input(c)], keep=("out_channels", "kernel_size", "stride"))


@on_module(nn.Linear)
def linear(c: Call) -> Emit:
    m = c.module
    return Emit("Linear", {"out_features": m.out_features, "bias": m.bias is not None}, [only_input(c)],
                keep=("out_features",))


# ---- normalisation ---------------------------------------------------------------------------------------------

@on_module(nn.BatchNorm1d, nn.BatchNorm2d)
def batch_norm(c: Call) -> Emit:
    m = c.module
    if not m.track_running_stats:
        raise Unsupported(f"{c.label}(track_running_stats=False)")
    if m.momentum is None:
        raise Unsupported(f"{c.label}(momentum=None)")
    return Emit(type(m).__name__, {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}, [only_input(c)])


@on_module(nn.LayerNorm)
def layer_norm(c: Call) -> Emit:
    m = c.module
    if m.elementwise_affine and getattr(m, "bias", True) is None:
        raise Unsupported(f"{c.label}(bias=False)")
    return Emit("LayerNorm", {"normalized_dims": len(m.normalized_shape), "eps": m.eps,
                              "elementwise_affine": m.elementwise_affine}, [only_input(c)])


@on_module(nn.LocalResponseNorm)
def local_response_norm(c: Call) -> Emit:
    m = c.module
    return Emit("LocalResponseNorm", {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k}, [only_input(c)],
                keep=("size",))


# ---- pooling ---------------------------------------------------------------------------------------------------

def _stride(kernel, stride):
    """torch stores an unset stride as None, [] or the kernel itself; the catalog's unset stride is None."""
    if stride is None or stride == [] or stride == ():
        return None
    return None if pair(stride) == pair(kernel) else pair(stride)


def _maxpool(c: Call, x, kernel, stride, padding, dilation, ceil_mode, return_indices) -> Emit:
    emit = Emit("MaxPool2d", {"kernel_size": pair(kernel), "stride": _stride(kernel, stride),
                              "padding": pair(padding), "dilation": pair(dilation), "ceil_mode": bool(ceil_mode)},
                [c.tensor(x)], keep=("kernel_size",))
    if return_indices:
        emit.results = lambda gid: (gid, Indices(gid))  # (pooled, indices of this pool)
    return emit


@on_module(nn.MaxPool2d)
def maxpool_module(c: Call) -> Emit:
    m = c.module
    return _maxpool(c, only_input(c), m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices)


@on_function(F.max_pool2d, F.max_pool2d_with_indices)
def maxpool_function(c: Call) -> Emit:
    a = c.bind("input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False")
    k, s, pad, d, ceil, idx = (c.const(a[n]) for n in ("kernel_size", "stride", "padding", "dilation", "ceil_mode",
                                                        "return_indices"))
    return _maxpool(c, a["input"], k, s, pad, d, ceil, idx or c.node.target is F.max_pool2d_with_indices)


def _avgpool(c: Call, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override) -> Emit:
    if divisor_override is not None:
        raise Unsupported(f"{c.label}(divisor_override=…)")
    return Emit("AvgPool2d", {"kernel_size": pair(kernel), "stride": _stride(kernel, stride),
                              "padding": pair(padding), "ceil_mode": bool(ceil_mode),
                              "count_include_pad": bool(count_include_pad)}, [c.tensor(x)], keep=("kernel_size",))


@on_module(nn.AvgPool2d)
def avgpool_module(c: Call) -> Emit:
    m = c.module
    return _avgpool(c, only_input(c), m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
                    m.divisor_override)


@on_function(F.avg_pool2d)
def avgpool_function(c: Call) -> Emit:
    a = c.bind("input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, "
               "divisor_override=None")
    return _avgpool(c, a["input"], *(c.const(a[n]) for n in ("kernel_size", "stride", "padding", "ceil_mode",
                                                              "count_include_pad", "divisor_override")))


def _adaptive(c: Call, op: str, x) -> Emit:
    # torch allows None for "keep this size"; the traced output shape says what it resolved to
    return Emit(op, {"output_size": pair(c.full_out[-2:])}, [c.tensor(x)], keep=("output_size",))


@on_module(nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
def adaptive_module(c: Call) -> Emit:
    if getattr(c.module, "return_indices", False):
        raise Unsupported(f"{c.label}(return_indices=True)")
    return _adaptive(c, type(c.module).__name__, only_input(c))


@on_function(F.adaptive_avg_pool2d, F.adaptive_max_pool2d)
def adaptive_function(c: Call) -> Emit:
    if c.node.target is F.adaptive_max_pool2d:
        a = c.bind("input, output_size, return_indices=False")
        if c.const(a["return_indices"]):
            raise Unsupported(f"{c.label}(return_indices=True)")
        return _adaptive(c, "AdaptiveMaxPool2d", a["input"])
    a = c.bind("input, output_size")
    return _adaptive(c, "AdaptiveAvgPool2d", a["input"])


# ---- regularisation, padding, identity -------------------------------------------------------------------------

@on_module(nn.Dropout)
def dropout_module(c: Call) -> Emit:
    return Emit("Dropout", {"p": c.module.p}, [only_input(c)], keep=("p",))


@on_module(nn.Dropout2d)
def dropout2d_module(c: Call) -> Emit:
    need("Dropout2d", c)
    return Emit("Dropout2d", {"p": c.module.p}, [only_input(c)], keep=("p",))


@on_function(F.dropout, F.dropout2d)
def dropout_function(c: Call) -> Emit:
    # `training=self.training` was frozen to a constant by tracing; the graph's Dropout follows the module's mode
    a = c.bind("input, p=0.5, training=True, inplace=False")
    op = "Dropout2d" if c.node.target is F.dropout2d else "Dropout"
    need(op, c)
    return Emit(op, {"p": c.const(a["p"])}, [c.tensor(a["input"])], keep=("p",))


def _zero_pad(c: Call, x, pads) -> Emit:
    pads = [int(v) for v in pads]
    if len(pads) == 2:
        pads += [0, 0]
    if len(pads) != 4:
        raise Unsupported(f"{c.label} of {len(pads) // 2} dimensions")
    return Emit("ZeroPad2d", {"padding": pads[:1] if len(set(pads)) == 1 else pads}, [c.tensor(x)],
                keep=("padding",))


@on_module(nn.ZeroPad2d)
def zero_pad_module(c: Call) -> Emit:
    return _zero_pad(c, only_input(c), c.module.padding)


@on_function(F.pad)
def pad_function(c: Call) -> Emit:
    a = c.bind("input, pad, mode='constant', value=None")
    if c.const(a["mode"]) != "constant" or c.const(a["value"]) not in (None, 0, 0.0):
        raise Unsupported(f"{c.label}(mode={c.const(a['mode'])!r}, value={c.const(a['value'])!r})")
    return _zero_pad(c, a["input"], c.const(a["pad"]))


@on_module(nn.Identity)
def identity_module(c: Call) -> Emit:
    return Emit("Identity", {}, [c.tensor(c.node.args[0])])



# ---- making images bigger --------------------------------------------------------------------------------------

def _upsample(c: Call, x, size, scale_factor, mode, align_corners, recompute=None, antialias=False) -> Emit:
    if antialias or recompute:
        raise Unsupported(f"{c.label}({'antialias' if antialias else 'recompute_scale_factor'}=True)")
    if mode not in ("nearest", "bilinear"):
        raise Unsupported(f"{c.label}(mode={mode!r})")
    if mode == "bilinear" and align_corners:
        raise Unsupported(f"{c.label}(align_corners=True)")
    if size is not None:
        return Emit("Upsample", {"size": pair(c.full_out[-2:]), "scale_factor": None, "mode": mode}, [c.tensor(x)],
                    keep=("size", "scale_factor"))
    scale = scale_factor
    if isinstance(scale, (list, tuple)):
        if len(set(scale)) != 1:
            raise Unsupported(f"{c.label} with different height and width scales")
        scale = scale[0]
    return Emit("Upsample", {"scale_factor": float(scale), "mode": mode}, [c.tensor(x)], keep=("scale_factor",))


@on_module(nn.Upsample)
def upsample_module(c: Call) -> Emit:
    m = c.module
    return _upsample(c, only_input(c), m.size, m.scale_factor, m.mode, m.align_corners,
                     getattr(m, "recompute_scale_factor", None))


@on_function(F.interpolate)
def interpolate(c: Call) -> Emit:
    a = c.bind("input, size=None, scale_factor=None, mode='nearest', align_corners=None, "
               "recompute_scale_factor=None, antialias=False")
    return _upsample(c, a["input"], *(c.const(a[n]) for n in ("size", "scale_factor", "mode", "align_corners",
                                                               "recompute_scale_factor", "antialias")))


def _unpool(c: Call, x, indices) -> Emit:
    v = c.builder.value(indices) if c.builder is not None else None
    if not isinstance(v, Indices):
        raise Unsupported(f"{c.label} whose indices do not come straight from a MaxPool2d")
    return Emit("MaxUnpool2d", {"pool": v.pool}, [c.tensor(x)], keep=("pool",))


@on_module(nn.MaxUnpool2d)
def max_unpool_module(c: Call) -> Emit:
    a = c.bind("input, indices, output_size=None")
    return _unpool(c, a["input"], a["indices"])


@on_function(F.max_unpool2d)
def max_unpool_function(c: Call) -> Emit:
    a = c.bind("input, indices, kernel_size, stride=None, padding=0, output_size=None")
    return _unpool(c, a["input"], a["indices"])
