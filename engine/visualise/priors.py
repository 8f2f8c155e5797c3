"""Image priors and robustness transforms shared by gradient ascent and feature inversion.

Priors are penalties on the image: the α-norm (keeps pixels bounded; α = 6 punishes a few extreme pixels far more
than many moderate ones) and total variation TV_β (β = 2 smooths; β = 1 allows sharp edges). Both are *means* over
pixels, so one λ means the same on a 28×28 digit and a 224×224 photo.

Transforms are applied to the image before every forward pass during ascent (jitter and random scale: an image
that still excites the unit after being shifted and resized is a feature, not an adversarial pattern) or to the
image itself every few steps (Gaussian blur, Yosinski et al. 2015: removes the high frequencies ascent favours).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def alpha_norm(x: torch.Tensor, alpha: float = 6.0, center: float = 0.0) -> torch.Tensor:
    """mean(|x - center|^α) over all elements."""
    return (x - center).abs().pow(alpha).mean()


def total_variation(x: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """TV_β(x) = mean over pixels of ((∂x/∂h)² + (∂x/∂w)²)^(β/2), for x of shape (B, C, H, W)."""
    dh = x[..., 1:, :-1] - x[..., :-1, :-1]
    dw = x[..., :-1, 1:] - x[..., :-1, :-1]
    sq = dh * dh + dw * dw
    if beta == 2.0:
        return sq.mean()
    return (sq + 1e-8).pow(beta / 2).mean()  # the epsilon keeps the gradient finite where the image is flat


def gaussian_kernel1d(sigma: float, radius: int, device=None, dtype=None) -> torch.Tensor:
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-(x * x) / (2 * sigma * sigma))
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), reflect-padded so the borders do not darken; the kernel is cut at
    2σ (or at the image size, for tiny images)."""
    H, W = x.shape[-2:]
    r = min(math.ceil(2 * sigma), H - 1, W - 1)
    if sigma <= 0 or r < 1:
        return x
    C = x.shape[1]
    k = gaussian_kernel1d(sigma, r, x.device, x.dtype)
    x = F.pad(x, (r, r, r, r), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(C, 1, 1, -1), groups=C)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(C, 1, -1, 1), groups=C)


def random_jitter_scale(x: torch.Tensor, jitter: int, scale: tuple[float, float],
                        generator: torch.Generator) -> torch.Tensor:
    """Shift by up to ±jitter pixels and zoom by a factor drawn from `scale`, keeping the size (B, C, H, W).
    One bilinear resample does both (border pixels repeated where the image moves in); a shift alone is a roll."""
    H, W = x.shape[-2:]
    s = float(torch.empty(1).uniform_(scale[0], scale[1], generator=generator)) if scale[0] != scale[1] else scale[0]
    tx, ty = (torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist() if jitter > 0 else (0, 0))
    if s == 1.0:  # a whole-pixel shift alone: rolling is exact and much cheaper than resampling
        return torch.roll(x, shifts=(ty, tx), dims=(-2, -1)) if (tx or ty) else x
    theta = torch.tensor([[1.0 / s, 0.0, 2.0 * tx / W], [0.0, 1.0 / s, 2.0 * ty / H]],
                         device=x.device, dtype=x.dtype)[None].expand(x.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
