"""Two more patterns of several fx calls that are one catalog op (marked like engine/fx/rewrites.py's, before the
builder walks the trace):

- a max pool of a −inf-padded input (TensorFlow's 'same' max pool; what codegen exports for an asymmetric 'same'):
  `pool(F.pad(x, (l, r, t, b), value=-inf))`, the pool a module or F.max_pool2d without padding of its own, or the
  pad an nn.ConstantPad2d(…, -inf). It becomes MaxPool2d(padding='same') when the pads are exactly the ones 'same'
  resolves to, MaxPool2d(padding=[t, l]) when they are symmetric and within torch's half-window rule (the pad then
  does what the pool's own padding would), and is refused naming the pads otherwise;
- a restricted Boltzmann machine's forward: `torch.sigmoid(v @ self.W + self.hb)` where the module owning W (M×H)
  and hb (H) has exactly one more learned tensor, its visible bias (M), and nothing else. It becomes RBM(hidden=H)
  with that module as its source. Softmax visible units: v @ W reads the one-hot star levels of v (W has 5 rows per
  movie); whatever calls compute them from v, they are run once on probe ratings (every half star, 0 = not rated)
  and must give exactly the catalog RBM's encoding (torch computes the oracle: engine.catalog.rbm_module.RBM).
"""
from __future__ import annotations

import math
import operator
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from engine.catalog import rbm_module
from engine.catalog.arith import resolve_padding
from engine.catalog.rbm import LEVELS
from engine.fx.convert import REWRITE, Alias, Call, Emit, TensorFact, Unsupported, converter_for


def apply(gm: fx.GraphModule, facts: dict[fx.Node, Any], root: nn.Module) -> None:
    for node in list(gm.graph.nodes):
        if REWRITE in node.meta:
            continue
        _same_max_pool(node, facts, root)
        _rbm(node, facts, root)


def _shape(facts: dict, node: Any) -> tuple[int, ...] | None:
    fact = facts.get(node) if isinstance(node, fx.Node) else None
    return fact.shape if isinstance(fact, TensorFact) else None


def _only_user(node: fx.Node) -> fx.Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _hw(v: Any) -> tuple[int, int]:
    """torch's int-or-pair as (height, width)."""
    v = tuple(v) if isinstance(v, (list, tuple)) else (v, v)
    return (int(v[0]), int(v[-1]))


def _module(node: fx.Node, root: nn.Module) -> nn.Module | None:
    return root.get_submodule(node.target) if node.op == "call_module" else None


# -- max pool of a −inf-padded input -----------------------------------------------------------------------------
_PAD_SIG = ("input", "pad", "mode", "value")


def _neg_inf_pad(node: fx.Node, root: nn.Module) -> tuple[fx.Node, tuple[int, ...]] | None:
    """(x, (left, right, top, bottom)) of F.pad(x, pads, value=-inf) or nn.ConstantPad2d(pads, -inf)(x), else None."""
    if node.op == "call_function" and node.target is F.pad:
        a = dict(zip(_PAD_SIG, node.args)) | dict(node.kwargs)
        x, pads, mode, value = a.get("input"), a.get("pad"), a.get("mode", "constant"), a.get("value")
    elif isinstance(m := _module(node, root), nn.ConstantPad2d) and len(node.args) == 1 and not node.kwargs:
        x, pads, mode, value = node.args[0], m.padding, "constant", m.value
    else:
        return None
    if not isinstance(x, fx.Node) or mode != "constant" or not isinstance(value, (int, float)) \
            or not (math.isinf(value) and value < 0) or not isinstance(pads, (list, tuple)) \
            or len(pads) != 4 or not all(isinstance(p, int) and p >= 0 for p in pads):
        return None
    return x, tuple(pads)


def _pool_window(pool: fx.Node, pad: fx.Node, root: nn.Module) -> tuple | None:
    """(kernel, stride, dilation) of a max pool that reads `pad` and has no padding of its own, else None."""
    m = _module(pool, root)
    if isinstance(m, nn.MaxPool2d):
        if pool.args != (pad,) or pool.kwargs or m.return_indices or _hw(m.padding) != (0, 0):
            return None
        k, s, d = m.kernel_size, m.stride, m.dilation
    elif pool.op == "call_function" and pool.target is F.max_pool2d:
        sig = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
        a = dict(zip(sig, pool.args)) | dict(pool.kwargs)
        if a.get("input") is not pad or _hw(a.get("padding", 0)) != (0, 0) or a.get("return_indices"):
            return None
        k, s, d = a.get("kernel_size"), a.get("stride"), a.get("dilation", 1)
    else:
        return None
    if k is None:
        return None
    k = _hw(k)
    return k, _hw(s) if s not in (None, [], ()) else k, _hw(d)


def _same_max_pool(pad: fx.Node, facts: dict, root: nn.Module) -> None:
    found = _neg_inf_pad(pad, root)
    pool = _only_user(pad)
    if found is None or pool is None:
        return
    window = _pool_window(pool, pad, root)
    x, (left, right, top, bottom) = found
    xs = _shape(facts, x)
    if window is None or xs is None or len(xs) != 4:
        return
    k, s, d = window
    same = resolve_padding("same", xs[2:], k, s, d)
    if same == ((top, bottom), (left, right)):
        padding: Any = "same"
    elif top == bottom and left == right and top <= k[0] // 2 and left <= k[1] // 2:
        padding = top if top == left else [top, left]  # the pool's own padding is −inf too: the same windows
    else:
        def refuse(c: Call) -> Emit:
            raise Unsupported(f"a −inf pad {(left, right, top, bottom)} before a max pool that is neither its 'same' "
                              f"padding nor a symmetric one within half the window")
        pad.meta[REWRITE] = refuse
        return
    base = converter_for(pool, _module(pool, root))

    def convert(c: Call) -> Emit:
        emit = base(c)
        emit.params["padding"] = padding
        return emit
    pad.meta[REWRITE] = lambda c: Alias(x)
    pool.meta[REWRITE] = convert


# -- restricted Boltzmann machine --------------------------------------------------------------------------------
_SIGMOIDS = {torch.sigmoid, F.sigmoid}
_MATMULS = {operator.matmul, torch.matmul, torch.mm}
_ADDS = {operator.add, torch.add}


def _is_call(node: Any, functions: set, method: str, root: nn.Module, module: type | None = None) -> bool:
    if not isinstance(node, fx.Node) or node.kwargs:
        return False
    if node.op == "call_function":
        return node.target in functions
    if node.op == "call_method":
        return node.target == method
    return module is not None and isinstance(_module(node, root), module)


def _attr(node: Any) -> str | None:
    return node.target if isinstance(node, fx.Node) and node.op == "get_attr" else None


def _rbm(sig: fx.Node, facts: dict, root: nn.Module) -> None:
    if not _is_call(sig, _SIGMOIDS, "sigmoid", root, nn.Sigmoid) or len(sig.args) != 1:
        return
    add = sig.args[0]
    if not _is_call(add, _ADDS, "add", root) or len(add.args) != 2 or _only_user(add) is not sig:
        return
    mm, hb = add.args if _attr(add.args[1]) else add.args[::-1]
    if not _is_call(mm, _MATMULS, "matmul", root) or len(mm.args) != 2 or _only_user(mm) is not add \
            or _attr(hb) is None or _attr(mm.args[1]) is None:
        return
    units, w = mm.args
    owner = w.target.rpartition(".")[0]
    if hb.target.rpartition(".")[0] != owner or w.target == hb.target:
        return
    us, ws, hs = _shape(facts, units), _shape(facts, w), _shape(facts, hb)
    if us is None or ws is None or hs is None or len(us) != 2 or len(ws) != 2 or ws[0] != us[1] or hs != ws[1:]:
        return
    x, encoding = units, []
    if units.op != "placeholder":  # the units may be the one-hot star levels of the ratings (softmax units)
        found = _star_levels(units, facts, ws[0])
        if found is not None:
            x, encoding = found
    module = root.get_submodule(owner)
    learned = dict(module.named_parameters())
    names = {w.target.rpartition(".")[2], hb.target.rpartition(".")[2]}
    visible = [n for n, p in learned.items() if n not in names and tuple(p.shape) == (ws[0],)]
    if len(learned) != 3 or not names <= set(learned) or len(visible) != 1:
        return  # not an RBM's three learned tensors (W, visible bias, hidden bias) and nothing else
    hidden, kind = ws[1], "softmax" if encoding else "binary"
    for n in [add, mm] + encoding:
        n.meta[REWRITE] = lambda c: Alias(x)
    sig.meta[REWRITE] = lambda c: Emit("RBM", {"hidden": hidden, "visible_units": kind}, [x], keep=("hidden",),
                                       source=owner)


def _ancestors(node: fx.Node) -> set[fx.Node]:
    seen, todo = set(), [node]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(n.all_input_nodes)
    return seen


def _star_levels(units: fx.Node, facts: dict, width: int) -> tuple[fx.Node, list[fx.Node]] | None:
    """(v, the calls from v to `units`) when those calls compute the catalog RBM's softmax encoding of v."""
    if width % LEVELS:
        return None
    above = _ancestors(units)
    order = {n: i for i, n in enumerate(units.graph.nodes)}
    for v in sorted(above - {units}, key=lambda n: -order[n]):  # the nearest first
        if _shape(facts, v) is None or _shape(facts, v)[1:] != (width // LEVELS,):
            continue
        chain = [n for n in units.graph.nodes if n in above - _ancestors(v)]
        inside = set(chain)
        if not chain or any(n.op not in ("call_function", "call_method", "get_attr") for n in chain) \
                or any(u not in inside for n in chain if n is not units for u in n.users):
            continue
        probe = _probe_ratings(width // LEVELS)
        with torch.no_grad():
            expected = rbm_module.RBM(width // LEVELS, 1, softmax=True, levels=LEVELS).encode(probe)
            got = _run(chain, v, probe)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and torch.equal(got, expected):
            return v, [n for n in chain if isinstance(facts.get(n), TensorFact)]
    return None


def _run(chain: list[fx.Node], v: fx.Node, probe: torch.Tensor) -> Any:
    """The value of chain[-1] when v is `probe` (None when a call fails on it)."""
    env: dict[fx.Node, Any] = {v: probe}
    try:
        for n in chain:
            args = fx.node.map_arg(n.args, env.__getitem__)
            kwargs = fx.node.map_arg(n.kwargs, env.__getitem__)
            if n.op == "get_attr":  # a constant (torch.arange(1, 6) traced as a tensor), never a learned one
                value = operator.attrgetter(n.target)(n.graph.owning_module)
                if isinstance(value, nn.Parameter):
                    return None
                env[n] = value
            else:
                env[n] = n.target(*args, **kwargs) if n.op == "call_function" else \
                    getattr(args[0], n.target)(*args[1:], **kwargs)
    except Exception:  # noqa: BLE001 - calls that do not run on the probe are not this encoding
        return None
    return env[chain[-1]]


def _probe_ratings(movies: int) -> torch.Tensor:
    """Every half star (and 0, not rated) at every movie, plus random ratings: (2·LEVELS + 3, movies)."""
    n = 2 * LEVELS + 1
    steps = ((torch.arange(n)[:, None] + torch.arange(movies)[None, :]) % n).float() / (2 * LEVELS)
    return torch.cat([steps, torch.rand(2, movies, generator=torch.Generator().manual_seed(0))])


__all__ = ["apply"]
