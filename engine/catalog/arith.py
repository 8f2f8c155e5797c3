"""Pure integer shape arithmetic with PyTorch's semantics, and the sentences that explain it.

Every function here takes ints and returns ints (floor division `//`, never float floor) or raises ShapeError
whose message shows the formula with the numbers filled in.
"""
from __future__ import annotations

from engine.errors import ShapeError

AXES = ("height", "width")


def fmt_shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape)


def need_rank(ins_shape: tuple[int, ...], rank: int, what: str, fix: dict | None = None) -> None:
    if len(ins_shape) != rank:
        kinds = {1: "a vector (F)", 2: "a sequence (T×F)", 3: "an image tensor (C×H×W)"}
        raise ShapeError(f"expects {kinds.get(rank, f'{rank} dimensions')} but receives {fmt_shape(ins_shape)}. "
                         f"{what}", fix=fix)


def same_padding(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow's 'same': out = ceil(size / s); pad the difference, the odd pixel after (bottom/right)."""
    out = -(-size // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding, size: tuple[int, int], k: tuple[int, int], s: tuple[int, int],
                    d: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Padding spec -> ((top, bottom), (left, right))."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return same_padding(size[0], k[0], s[0], d[0]), same_padding(size[1], k[1], s[1], d[1])
    if padding == "full":
        return (d[0] * (k[0] - 1),) * 2, (d[1] * (k[1] - 1),) * 2
    return (padding[0], padding[0]), (padding[1], padding[1])


def window_out(axis: str, size: int, k: int, s: int, pad: tuple[int, int], d: int = 1, ceil_mode: bool = False,
               what: str = "kernel", field: str = "kernel_size") -> int:
    """out = floor((size + pad_before + pad_after − d·(k−1) − 1) / s) + 1, as torch's conv and pool compute it
    (ceil instead of floor with ceil_mode, keeping only windows that start inside the input or the left padding)."""
    eff = d * (k - 1) + 1
    padded = size + pad[0] + pad[1]
    num = padded - eff
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + pad[0]:
        out -= 1  # torch: the last window must start inside the input or the left padding
    if out < 1:  # with ceil_mode torch keeps a window that overhangs the end by less than a stride
        ptxt = f"{pad[0]}+{pad[1]}" if pad[0] != pad[1] else f"2·{pad[0]}"
        ktxt = f"{what} {k}" if d == 1 else f"dilated {what} {eff} ({d}·({k}−1)+1)"
        formula = (f"⌈({size} − {eff} + {pad[0] + pad[1]})/{s}⌉ + 1" if ceil_mode
                   else f"({size} − {eff} + {pad[0] + pad[1]})/{s} + 1")
        raise ShapeError(
            f"{ktxt} is larger than the padded input {axis} {padded} ({size} + {ptxt}). "
            f"Output would be {formula} = {out}. "
            f"Use a smaller {what}, more padding, or padding 'same'.",
            field=field, fix={"kind": "set_param", "param": "padding", "value": "same"} if what == "kernel" else None)
    return out


def conv_transpose_out(axis: str, size: int, k: int, s: int, p: int, op: int, d: int) -> int:
    """out = (size − 1)·s − 2p + d·(k − 1) + output_padding + 1."""
    out = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out <= 0:
        raise ShapeError(f"output {axis} would be ({size} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = {out}. "
                         f"Reduce the padding.", field="padding")
    return out
