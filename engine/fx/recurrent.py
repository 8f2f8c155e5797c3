"""Converters for sequences: LSTM/GRU modules, `seq[:, -1]` (the last step), and the image-rows-as-steps pattern.

A recurrent module returns (output, state). The graph's LSTM/GRU node stands for `output` (every step); reading the
state is refused if the model uses it. `output[:, -1]` right after it becomes the node's return_sequence=False,
and `x.permute(0, 2, 1, 3)` followed by a flatten/reshape to (B, H, C·W) becomes ToSequence.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from engine.fx.convert import Call, Emit, Refused, Unsupported, on_function, on_method, on_module, only_input

_RESHAPES = {"view", "reshape", "flatten"}


@on_module(nn.LSTM, nn.GRU)
def recurrent(c: Call) -> Emit:
    m = c.module
    if not m.batch_first:
        raise Unsupported(f"{c.label}(batch_first=False)")
    if getattr(m, "proj_size", 0):
        raise Unsupported(f"{c.label}(proj_size=…)")
    emit = Emit(type(m).__name__, {"hidden_size": m.hidden_size, "num_layers": m.num_layers,
                                   "bidirectional": m.bidirectional, "dropout": float(m.dropout), "bias": m.bias,
                                   "return_sequence": True}, [only_input(c)], keep=("hidden_size",))
    state = Refused(f"{c.label}'s final state ({'(h, c)' if isinstance(m, nn.LSTM) else 'h'})")
    emit.results = lambda gid: (gid, state)
    return emit


def _is_rows_reshape(user, facts, B, C, H, W) -> bool:
    reshape = (user.op == "call_method" and user.target in _RESHAPES) or (
        user.op == "call_function" and user.target in (torch.flatten, torch.reshape))
    out = facts.get(user)
    return reshape and getattr(out, "shape", None) == (B, H, C * W)


@on_method("permute")
@on_function(torch.permute)
def permute(c: Call) -> Emit:
    """(B, C, H, W) -> (B, H, C, W) then -> (B, H, C·W): the rows of the image as a sequence (ToSequence)."""
    x = c.tensor(c.node.args[0])
    dims = c.const(list(c.node.args[1:]) if c.node.op == "call_method" else c.node.args[1])
    if dims and isinstance(dims[0], (list, tuple)):
        dims = list(dims[0])
    shape = c.full_shape(x)
    users = list(c.node.users)
    if len(shape) == 4 and [d % 4 for d in dims] == [0, 2, 1, 3] and len(users) == 1 and c.builder is not None \
            and _is_rows_reshape(users[0], c.facts, *shape):
        c.builder.absorb(users[0], c.node)  # the reshape is part of ToSequence
        return Emit("ToSequence", {}, [x], expect=(shape[2], shape[1] * shape[3]))
    raise Unsupported(c.label)
