"""The image-rows-as-steps pattern: `x.permute(0, 2, 1, 3)` followed by a flatten/reshape to (B, H, C·W) becomes
ToSequence. It spans two calls (the builder absorbs the reshape), so it lives here rather than on ToSequence's spec.

LSTM/GRU modules are declared by their ops (engine/catalog/recurrent.py); `output[:, -1]` right after one becomes
the node's return_sequence=False (tensor_ops.getitem and Builder.last_step).
"""
from __future__ import annotations

import torch

from engine.fx.convert import Call, Emit, Unsupported, on_function, on_method

_RESHAPES = {"view", "reshape", "flatten"}


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
