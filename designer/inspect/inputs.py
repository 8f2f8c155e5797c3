"""Inputs for the Inspect page, as model-ready float tensors (C, H, W) in [0, 1]: an uploaded picture (checked for
type and size), or a digit drawn with the mouse (centred the way MNIST's digits are). No streamlit here."""
from __future__ import annotations

import hashlib
import io

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_PIXELS = 4096 * 4096
UPLOAD_TYPES = ("png", "jpg", "jpeg", "bmp", "gif", "webp")
_FORMATS = {"PNG", "JPEG", "BMP", "GIF", "WEBP"}


class InputError(ValueError):
    """An input the model cannot take; the message says what is wrong and what to do."""


def digest(x: torch.Tensor) -> str:
    """A short content hash: the cache key of everything computed for this input."""
    return hashlib.sha1(x.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def _fit(img: Image.Image, shape: tuple[int, ...]) -> torch.Tensor:
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise InputError(f"pictures can feed models with 1 or 3 input channels only. Received: model input "
                         f"{'×'.join(map(str, shape))}")
    C, H, W = shape
    img = img.convert("L" if C == 1 else "RGB").resize((W, H), Image.Resampling.LANCZOS)
    a = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(a[None] if C == 1 else a.transpose(2, 0, 1).copy())


def decode_upload(data: bytes, name: str, shape: tuple[int, ...], invert: bool | None = None) -> tuple[torch.Tensor, bool]:
    """Uploaded bytes -> (C, H, W) in [0, 1] resized to the model's input, and whether it was inverted.

    Grey models were trained on light strokes on black (MNIST); a photo of ink on paper is the opposite, so
    `invert=None` inverts when the picture's border is mostly light."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"the file is too large: at most {MAX_UPLOAD_BYTES // 2**20} MB. "
                         f"Received: {name} ({len(data) / 2**20:.1f} MB)")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            w, h = probe.size
            probe.verify()
        if fmt not in _FORMATS:
            raise InputError(f"unsupported picture type {fmt}: use PNG, JPEG, BMP, GIF or WebP. Received: {name}")
        if w * h > MAX_UPLOAD_PIXELS:
            raise InputError(f"the picture is too large: at most 4096×4096 pixels. Received: {name} ({w}×{h})")
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise InputError(f"not a readable picture: {e}. Received: {name}") from None
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        flat = Image.new("RGBA", img.size, (255, 255, 255, 255))  # transparent parts read as white paper
        img = Image.alpha_composite(flat, img)
    x = _fit(img, shape)
    if invert is None:
        border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], 1)
        invert = shape[0] == 1 and float(border.mean()) > 0.5
    return (1.0 - x if invert else x), invert


def centre_digit(canvas: np.ndarray, size: int = 28, box: int = 20) -> torch.Tensor:
    """A drawing (H, W) of light strokes on black -> (1, size, size) as MNIST was made: the strokes' bounding box
    scaled to fit a box×box square (aspect kept), then placed so the centre of mass is at the image centre."""
    a = np.asarray(canvas, dtype=np.float32)
    if a.max() > 1.0:
        a = a / 255.0
    ys, xs = np.nonzero(a > 0.05)
    if len(ys) == 0:
        return torch.zeros(1, size, size)
    crop = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((nw, nh), Image.Resampling.LANCZOS),
                       dtype=np.float32) / 255.0
    total = small.sum()
    cy = (small.sum(1) * np.arange(nh)).sum() / total if total else nh / 2
    cx = (small.sum(0) * np.arange(nw)).sum() / total if total else nw / 2
    top = int(round(size / 2 - cy - 0.5))
    left = int(round(size / 2 - cx - 0.5))
    top, left = min(max(top, 0), size - nh), min(max(left, 0), size - nw)
    out = np.zeros((size, size), dtype=np.float32)
    out[top:top + nh, left:left + nw] = small
    return torch.from_numpy(out.clip(0, 1))[None]


def drawing_to_input(pixels: list | None, side: int, shape: tuple[int, ...]) -> torch.Tensor | None:
    """The drawing component's flat grey pixel list (side×side, 0-255) -> the model input, or None if blank."""
    if not pixels:
        return None
    a = np.asarray(pixels, dtype=np.float32)
    if a.size != side * side:
        raise InputError(f"the drawing has {a.size} pixels, expected {side}×{side}")
    a = a.reshape(side, side)
    if a.max() <= 0:
        return None
    C, H, W = shape
    if (C, H, W) == (1, 28, 28):
        return centre_digit(a)
    return _fit(Image.fromarray(a.clip(0, 255).astype(np.uint8)), shape)
