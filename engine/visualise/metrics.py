"""The numbers that say how good a picture is: deletion AUC, Spearman rank correlation, PSNR, SSIM.

All take torch tensors (any device) and return Python floats, so results compare and serialise simply.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def rank(v: torch.Tensor) -> torch.Tensor:
    """Ranks 0..n-1 of a 1-d tensor, ties sharing their average rank (what Spearman's rho needs)."""
    v = v.flatten().double()
    order = torch.argsort(v, stable=True)
    sorted_v = v[order]
    ranks = torch.empty_like(v)
    ranks[order] = torch.arange(v.numel(), dtype=torch.float64, device=v.device)
    # average the ranks within each run of equal values
    _, inverse, counts = torch.unique_consecutive(sorted_v, return_inverse=True, return_counts=True)
    sums = torch.zeros(counts.numel(), dtype=torch.float64, device=v.device).index_add_(
        0, inverse, torch.arange(v.numel(), dtype=torch.float64, device=v.device))
    avg = sums / counts
    ranks[order] = avg[inverse]
    return ranks


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two equally sized tensors (Pearson's r of their tie-averaged ranks).
    A constant input has no ranking; its correlation is defined here as 0."""
    if a.numel() != b.numel():
        raise ValueError(f"spearman needs tensors of the same size. Received: {a.numel()} and {b.numel()} elements")
    ra, rb = rank(a), rank(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = ra.norm() * rb.norm()
    return 0.0 if den == 0 else float((ra * rb).sum() / den)


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of x against ref (inf when identical)."""
    mse = float(F.mse_loss(x.double(), ref.double()))
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(data_range ** 2 / mse)).item()


def _gaussian_window(size: int, sigma: float, device, dtype) -> torch.Tensor:
    g = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(g ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0, window: int = 7, sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al. 2004) of two (C, H, W) or (H, W) images, mean over channels and
    positions, Gaussian window (7 px by default: MNIST digits are 28 px, the paper's 11 px window is too coarse)."""
    x, ref = x.double(), ref.double()
    if x.dim() == 2:
        x, ref = x[None], ref[None]
    C, H, W = x.shape
    window = min(window, H, W)
    w = _gaussian_window(window, sigma, x.device, x.dtype).expand(C, 1, window, window)
    blur = lambda t: F.conv2d(t[None], w, groups=C)[0]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(ref)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(ref * ref) - my ** 2, blur(x * ref) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return float(s.mean())


@dataclass
class Deletion:
    """Deletion metric (Petsiuk et al. 2018): remove pixels most-salient first and watch the class probability
    fall. The area under that curve is small for a map that found the evidence; a random order is the control."""

    auc: float  # mean probability of the target over the deletion steps (lower = better map)
    random_auc: float  # the same for random pixel orders (mean over `random_orders` draws)
    curve: list[float]  # probability after deleting fractions 0, 1/steps, ..., 1 of the pixels
    random_curve: list[float]

    @property
    def beats_random(self) -> bool:
        return self.auc < self.random_auc


@torch.no_grad()
def deletion_curve(model, x: torch.Tensor, order: torch.Tensor, target: int, steps: int = 28,
                   baseline: float = 0.0) -> torch.Tensor:
    """Target probability as pixels of x (1, C, H, W) are set to `baseline` in `order` (flat H*W indices,
    first deleted first); `steps` + 1 points, all in one batched forward."""
    _, C, H, W = x.shape
    n = H * W
    counts = torch.linspace(0, n, steps + 1, device=x.device).round().long()
    # position of each pixel in the deletion order -> a pixel is gone at step k when its position < counts[k]
    position = torch.empty(n, dtype=torch.long, device=x.device)
    position[order.to(x.device)] = torch.arange(n, device=x.device)
    gone = (position[None, :] < counts[:, None]).view(steps + 1, 1, H, W)
    batch = torch.where(gone, torch.full_like(x, baseline), x.expand(steps + 1, C, H, W))
    return torch.softmax(model(batch), dim=1)[:, target]


def curve_auc(curve: torch.Tensor) -> float:
    """Trapezoidal area under a curve sampled at evenly spaced fractions of [0, 1]."""
    c = curve.double()
    return float(((c[1:] + c[:-1]) / 2).mean())


def deletion(model, x: torch.Tensor, saliency: torch.Tensor, target: int, steps: int = 28, baseline: float = 0.0,
             random_orders: int = 4, seed: int = 0) -> Deletion:
    """Deletion AUC of a saliency map (H, W) for image x (1, C, H, W) beside the AUC of random orders. Pixels of
    equal importance (e.g. the zeros of a ReLU'd Grad-CAM) are deleted in random order, not scan order."""
    gen = torch.Generator().manual_seed(seed)
    n = saliency.numel()
    shuffle = torch.randperm(n, generator=gen)
    order = shuffle[torch.argsort(saliency.flatten().cpu()[shuffle], descending=True, stable=True)]
    curve = deletion_curve(model, x, order, target, steps, baseline)
    randoms = [deletion_curve(model, x, torch.randperm(n, generator=gen), target, steps, baseline)
               for _ in range(random_orders)]
    rnd = torch.stack(randoms).mean(0)
    return Deletion(curve_auc(curve), curve_auc(rnd), curve.tolist(), rnd.tolist())
