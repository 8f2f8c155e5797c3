"""The numbers that say how good a picture is: deletion and insertion AUC, Spearman rank correlation, PSNR, SSIM.

All take torch tensors (any device) and return Python floats, so results compare and serialise simply. SSIM is
torchmetrics'. Spearman (tie-averaged ranks) and PSNR are a few lines of torch that run on the maps' device without
a copy to numpy; tests/engine/visualise/test_faithfulness.py checks them against scipy.stats.spearmanr and
torchmetrics' PSNR.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from engine.visualise.stats import Interval, prediction_interval


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
    A constant input (a blank map) has no ranking, so the correlation is not defined: NaN, as scipy says. Never 0:
    a 0 would read as "the maps are unrelated" and pass a sanity check that never looked at a map."""
    if a.numel() != b.numel():
        raise ValueError(f"spearman needs tensors of the same size. Received: {a.numel()} and {b.numel()} elements")
    ra, rb = rank(a), rank(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = ra.norm() * rb.norm()
    return math.nan if den == 0 else float((ra * rb).sum() / den)


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB of x against ref (inf when identical)."""
    mse = float(F.mse_loss(x.double(), ref.double()))
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(data_range ** 2 / mse)).item()


def ssim(x: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0, sigma: float = 1.5) -> float:
    """Structural similarity (Wang et al. 2004) of two (C, H, W) or (H, W) images: torchmetrics' implementation
    (Gaussian window of σ 1.5, 11 px, reflect-padded borders), mean over channels and positions."""
    # imported here, not at the top: the Inspect page imports this module in Streamlit's session threads, and two
    # sessions importing torchmetrics at once can see it half-initialised (KeyError: 'torchmetrics', seen in CI)
    from torchmetrics.functional.image import structural_similarity_index_measure

    x, ref = x.double(), ref.double()
    if x.dim() == 2:
        x, ref = x[None], ref[None]
    return float(structural_similarity_index_measure(x[None], ref[None], gaussian_kernel=True, sigma=sigma,
                                                     data_range=data_range))


def is_constant(m: torch.Tensor) -> bool:
    """A map with a single value everywhere (blank): it ranks no pixel above another."""
    return bool(m.numel() == 0 or (m == m.flatten()[0]).all())


@dataclass
class PixelCurve:
    """A perturbation curve (Petsiuk et al. 2018): pixels change in the map's order, most important first, while
    the class probability is tracked; its area (AUC) beside the same area for random orders, the control.

    The random control is `random_orders` random pixel orders; `random` is the 95% range of one random order's AUC
    (Student's t prediction interval from those orders). The map's order is one order: it beats random only when
    its AUC lies beyond that range on the good side, i.e. better than 97.5% of random orders would be. Inside it,
    the map is not distinguishable from a random order."""

    auc: float
    random_auc: float  # mean AUC over the random orders
    curve: list[float]  # probability after changing fractions 0, 1/steps, ..., 1 of the pixels
    random_curve: list[float]  # the random orders' mean curve
    random: Interval | None = None  # 95% range of one random order's AUC (None: fewer than 2 orders, no range)
    random_aucs: list[float] | None = None  # one AUC per random order

    lower_is_better = True
    kind = ""

    @property
    def beats_random(self) -> bool:
        """True only when the map's AUC lies beyond the random interval on the good side."""
        if self.random is None or not self.random.defined:
            return False
        return self.auc < self.random.lo if self.lower_is_better else self.auc > self.random.hi

    @property
    def worse_than_random(self) -> bool:
        if self.random is None or not self.random.defined:
            return False
        return self.auc > self.random.hi if self.lower_is_better else self.auc < self.random.lo

    @property
    def verdict(self) -> str:
        """'beats random', 'worse than random' or 'not distinguishable from random'."""
        if self.beats_random:
            return "beats random"
        if self.worse_than_random:
            return "worse than random"
        return "not distinguishable from random"


@dataclass
class Deletion(PixelCurve):
    """Deletion: pixels set to the baseline (black) most-salient first; the probability should fall fast, so a
    small area is good."""

    lower_is_better = True
    kind = "deletion"


@dataclass
class Insertion(PixelCurve):
    """Insertion (RISE protocol): start from a heavily blurred copy of the image and put the original pixels back
    most-salient first; the probability should rise fast, so a large area is good."""

    lower_is_better = False
    kind = "insertion"


CHUNK = 512  # images per forward of the perturbation curves


@torch.no_grad()
def replace_curves(model, start: torch.Tensor, end: torch.Tensor, orders: torch.Tensor, target: int,
                   steps: int = 28) -> torch.Tensor:
    """Target probability as the pixels of `start` (1, C, H, W) are replaced by those of `end`, for each of the
    orders (K, H*W) of flat pixel indices (first replaced first), at `steps` + 1 evenly spaced counts: (K, steps + 1),
    all in one batched forward."""
    _, C, H, W = start.shape
    n = H * W
    orders = orders.to(start.device).reshape(-1, n)
    K = len(orders)
    counts = torch.linspace(0, n, steps + 1, device=start.device).round().long()
    # position of each pixel in each order -> a pixel is replaced at step k when its position < counts[k]
    position = torch.empty_like(orders)
    position.scatter_(1, orders, torch.arange(n, device=start.device).expand(K, n))
    done = (position[:, None, :] < counts[None, :, None]).view(K * (steps + 1), 1, H, W)
    probs = []
    for i in range(0, len(done), CHUNK):  # bounded memory for big images and many orders
        part = done[i:i + CHUNK]
        batch = torch.where(part, end.expand(len(part), C, H, W), start.expand(len(part), C, H, W))
        probs.append(torch.softmax(model(batch), dim=1)[:, target])
    return torch.cat(probs).view(K, steps + 1)


def replace_curve(model, start: torch.Tensor, end: torch.Tensor, order: torch.Tensor, target: int,
                  steps: int = 28) -> torch.Tensor:
    """replace_curves for one order (H*W,): (steps + 1,)."""
    return replace_curves(model, start, end, order[None], target, steps)[0]


def deletion_curve(model, x: torch.Tensor, order: torch.Tensor, target: int, steps: int = 28,
                   baseline: float = 0.0) -> torch.Tensor:
    """Target probability as pixels of x (1, C, H, W) are set to `baseline` in `order`."""
    return replace_curve(model, x, torch.full_like(x, baseline), order, target, steps)


# RISE's substrate for insertion: a Gaussian blur of kernel 11 and sigma 5 (Petsiuk et al.'s released code)
BLUR_KERNEL, BLUR_SIGMA = 11, 5.0


def blurred(x: torch.Tensor, kernel: int = BLUR_KERNEL, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """The insertion curve's starting image: x (B, C, H, W) blurred (kernel shrunk to fit small images)."""
    k = min(kernel, 2 * min(x.shape[-2:]) - 1)
    k = k if k % 2 else k - 1
    return gaussian_blur(x, [k, k], [sigma, sigma]) if k > 1 else x.mean(dim=(-2, -1), keepdim=True).expand_as(x)


def curve_auc(curve: torch.Tensor) -> float:
    """Trapezoidal area under a curve sampled at evenly spaced fractions of [0, 1]."""
    c = curve.double()
    return float(((c[1:] + c[:-1]) / 2).mean())


def saliency_order(saliency: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Flat pixel indices, most important first; pixels of equal importance (e.g. the zeros of a ReLU'd Grad-CAM)
    in random order, not scan order."""
    n = saliency.numel()
    shuffle = torch.randperm(n, generator=gen)
    return shuffle[torch.argsort(saliency.flatten().cpu()[shuffle], descending=True, stable=True)]


# random orders of the single-image control: one image's random deletion AUC varies by about 0.05 (std over 40
# orders on the MNIST CNN); 40 orders estimate that spread (and so the range a map must leave) within about ±20%
RANDOM_ORDERS = 40


def _scored(cls, model, start: torch.Tensor, end: torch.Tensor, saliency: torch.Tensor, target: int, steps: int,
            random_orders: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    n = saliency.numel()
    orders = torch.stack([saliency_order(saliency, gen)] + [torch.randperm(n, generator=gen)
                                                           for _ in range(random_orders)])
    curves = replace_curves(model, start, end, orders, target, steps)
    curve, randoms = curves[0], curves[1:]
    aucs = [curve_auc(r) for r in randoms]
    rnd = randoms.mean(0) if random_orders else torch.full_like(curve, math.nan)
    return cls(curve_auc(curve), float(sum(aucs) / len(aucs)) if aucs else math.nan, curve.tolist(), rnd.tolist(),
               prediction_interval(aucs) if len(aucs) >= 2 else None, aucs)


def deletion(model, x: torch.Tensor, saliency: torch.Tensor, target: int, steps: int = 28, baseline: float = 0.0,
             random_orders: int = RANDOM_ORDERS, seed: int = 0) -> Deletion:
    """Deletion AUC of a saliency map (H, W) for image x (1, C, H, W) beside the AUC of random orders, with the
    95% range of a random order's AUC."""
    return _scored(Deletion, model, x, torch.full_like(x, baseline), saliency, target, steps, random_orders, seed)


def insertion(model, x: torch.Tensor, saliency: torch.Tensor, target: int, steps: int = 28,
              random_orders: int = RANDOM_ORDERS, seed: int = 0) -> Insertion:
    """Insertion AUC (RISE protocol: from the blurred image back to x) of a saliency map (H, W) for image x
    (1, C, H, W) beside the AUC of random orders, with the 95% range of a random order's AUC."""
    return _scored(Insertion, model, blurred(x), x, saliency, target, steps, random_orders, seed)
