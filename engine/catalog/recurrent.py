"""Sequences: LSTM, GRU (input T×F, batch_first) and Embedding (token ids → vectors)."""
from __future__ import annotations

import torch.nn as nn

from engine.catalog.arith import fmt_shape, need_rank
from engine.catalog.helpers import keywords
from engine.catalog.registry import EmitCtx, OpSpec, Param, from_module, register_op
from engine.errors import ParamError, ShapeError

GATES = {"LSTM": 4, "GRU": 3}  # weight blocks per layer: LSTM has input/forget/cell/output, GRU reset/update/new


def rnn_infer(p: dict, ins: list) -> tuple:
    s = ins[0]
    if len(s) != 2:
        fix = {"kind": "insert_before", "op": "ToSequence", "params": {}} if len(s) == 3 else None
        raise ShapeError(f"expects a sequence T×F (steps × features) but receives {fmt_shape(s)}."
                         + (" Insert a ToSequence before it to read the image's rows as steps." if fix else ""),
                         fix=fix)
    dirs = 2 if p["bidirectional"] else 1
    H = p["hidden_size"] * dirs
    return (s[0], H) if p["return_sequence"] else (H,)


def rnn_params(gates: int):
    def count(p: dict, ins: list, out: tuple) -> int:
        """Per layer and direction: gates·H·(in + H) weights and two bias vectors of gates·H (torch keeps both)."""
        H, dirs, F = p["hidden_size"], 2 if p["bidirectional"] else 1, ins[0][1]
        total = 0
        for layer in range(p["num_layers"]):
            n_in = F if layer == 0 else H * dirs
            total += dirs * (gates * H * (n_in + H) + (2 * gates * H if p["bias"] else 0))
        return total
    return count


def rnn_macs(gates: int):
    def count(p: dict, ins: list, out: tuple) -> int:
        H, dirs, (T, F) = p["hidden_size"], 2 if p["bidirectional"] else 1, ins[0]
        per_step = sum(dirs * gates * H * ((F if layer == 0 else H * dirs) + H) for layer in range(p["num_layers"]))
        return T * per_step
    return count


def rnn_init(name: str):
    def init(ctx: EmitCtx) -> str:
        p = ctx.p
        args = [str(ctx.in_shapes[0][1]), str(p["hidden_size"])] + keywords(p, num_layers=1, bias=True)
        args.append("batch_first=True")
        if p["num_layers"] > 1:  # torch warns about dropout without a layer after it to drop into
            args += keywords(p, dropout=0.0)
        return f"nn.{name}({', '.join(args + keywords(p, bidirectional=False))})"
    return init


def rnn_forward(name: str):
    def forward(ctx: EmitCtx) -> str:
        call = f"self.{ctx.attr}({ctx.args[0]})"
        if "state" in ctx.extras:  # stateful: the generated class's carry_state keeps (and detaches) the state
            call = f"self.carry_state(self.{ctx.attr}, {ctx.extras['state']!r}, {ctx.args[0]})"
        if ctx.p["return_sequence"]:
            return f"{call}[0]"  # outputs at every step: (B, T, H·dirs)
        if not ctx.p["bidirectional"]:
            return f"{call}[0][:, -1]"  # the last step's output
        # both directions' final states (forward after step T, backward after step 1), side by side
        h_n = f"{call}[1][0]" if name == "LSTM" else f"{call}[1]"
        return f"{h_n}[-2:].transpose(0, 1).flatten(1)"
    return forward


def _check_rnn(p: dict) -> None:
    if p["stateful"] and p["bidirectional"]:
        raise ParamError("stateful", "stateful carries the forward state into the next batch; a bidirectional layer "
                         "also reads each window backwards, from a future the next batch has not seen. Turn off "
                         "bidirectional or stateful.")


def _rnn_fx(c):
    """The module call stands for its output at every step; `seq[:, -1]` after it (engine/fx/tensor_ops.py) turns
    the node's return_sequence off, and the final state, which the graph cannot hold, is refused where it is used."""
    m = c.module
    if not m.batch_first:
        raise c.unsupported(f"{c.label}(batch_first=False)")
    if getattr(m, "proj_size", 0):
        raise c.unsupported(f"{c.label}(proj_size=…)")
    state = c.refused(f"{c.label}'s final state ({'(h, c)' if isinstance(m, nn.LSTM) else 'h'})")
    return c.emit(type(m).__name__, {"hidden_size": m.hidden_size, "num_layers": m.num_layers,
                                     "bidirectional": m.bidirectional, "dropout": float(m.dropout), "bias": m.bias,
                                     "return_sequence": True}, [c.only_input()], keep=("hidden_size",),
                  results=lambda gid: (gid, state))


def _rnn(name: str, doc: str) -> None:
    register_op(OpSpec(
        name=name, category="Recurrent", doc=doc,
        params=[Param("hidden_size", "int", 128, "Size of the hidden state (features per step out).",
                      min=1, max=65536),
                Param("num_layers", "int", 1, "Stacked recurrent layers.", min=1, max=64),
                Param("bidirectional", "bool", False, "Also read the sequence backwards; doubles the output features."),
                Param("dropout", "float", 0.0, "Dropout between stacked layers (only with num_layers > 1).",
                      min=0.0, max=1.0),
                Param("bias", "bool", True, "Learn bias vectors."),
                Param("return_sequence", "bool", False, "Return every step (T×H) instead of only the last (H)."),
                Param("stateful", "bool", False, "Carry the hidden state from one batch to the next, detached "
                      "(truncated backpropagation through time), as a language model reads a long text in windows; "
                      "the model's reset_state() forgets it.")],
        infer=rnn_infer, init=rnn_init(name), forward=rnn_forward(name), check_params=_check_rnn,
        count_params=rnn_params(GATES[name]), count_macs=rnn_macs(GATES[name]),
        fx=(from_module(getattr(nn, name), convert=_rnn_fx),),
    ))


_rnn("LSTM", "Long short-term memory over a T×F sequence (batch first): returns T×H (every step) or H (the "
             "last step; both directions' final states when bidirectional).")
_rnn("GRU", "Gated recurrent unit over a T×F sequence (batch first); like LSTM with 3 gates instead of 4.")


def embedding_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 1, "Embedding looks up a sequence of token ids (T), from an Input with dtype int64.")
    return ins[0] + (p["embedding_dim"],)


def embedding_init(ctx: EmitCtx) -> str:
    p = ctx.p
    args = [str(p["num_embeddings"]), str(p["embedding_dim"])] + keywords(p, padding_idx=None)
    return f"nn.Embedding({', '.join(args)})"


def _check_embedding(p: dict) -> None:
    if p["padding_idx"] is not None and p["padding_idx"] >= p["num_embeddings"]:
        raise ParamError("padding_idx", f"padding_idx must be a token id below num_embeddings. "
                         f"Received: padding_idx={p['padding_idx']}, num_embeddings={p['num_embeddings']}.")


def _embedding_fx(c):
    m = c.module
    for name, off in (("max_norm", None), ("scale_grad_by_freq", False), ("sparse", False)):
        if getattr(m, name) != off:  # a renormalised lookup or another gradient than the op's
            raise c.unsupported(f"{c.label}({name}={getattr(m, name)!r})")
    return c.emit("Embedding", {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim,
                                "padding_idx": m.padding_idx}, [c.only_input()],
                  keep=("num_embeddings", "embedding_dim"))


register_op(OpSpec(
    name="Embedding", category="Recurrent",
    doc="A learned vector per token id: T ids (int64) → T×D. Feed it from an Input with dtype int64.",
    params=[Param("num_embeddings", "int", 1000, "Vocabulary size: ids run from 0 to num_embeddings − 1.",
                  min=1, max=10_000_000),
            Param("embedding_dim", "int", 64, "Length D of each token's vector.", min=1, max=65536),
            Param("padding_idx", "int", None, "A token id whose vector stays zero and gets no gradient.",
                  min=0, max=10_000_000, optional=True)],
    infer=embedding_infer, init=embedding_init, forward=lambda c: f"self.{c.attr}({c.args[0]})",
    count_params=lambda p, ins, out: p["num_embeddings"] * p["embedding_dim"], check_params=_check_embedding,
    id_prefix="embed", token_ids="lookup", fx=(from_module(nn.Embedding, convert=_embedding_fx),),
))
