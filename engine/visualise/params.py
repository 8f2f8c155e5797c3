"""How a synthetic image is parameterised: plain pixels, or a decorrelated Fourier spectrum (Lucent-style).

Gradient ascent on raw pixels favours high frequencies (the network is most sensitive there, so the optimum is
noise-like). Optimising a spectrum whose coefficients are scaled by 1/frequency makes every frequency equally easy
to move, which whitens the gradient and yields smoother, more natural images (Olah et al., "Feature
Visualization", Distill 2017). For RGB the colour channels are decorrelated too, with the square root of the
ImageNet colour covariance (the constants Lucent ships).

Each parameterisation is an nn.Module whose forward returns a (B, C, H, W) batch of images inside [lo, hi]; `project()`
runs after every optimiser step (pixel images are clamped back into range; the others are in range by
construction).
"""
from __future__ import annotations

import torch
from torch import nn

# sqrt of ImageNet's RGB covariance (from its SVD), normalised so the largest column has norm 1 (Lucent)
_COLOR_SVD_SQRT = torch.tensor([[0.26, 0.09, 0.02],
                                [0.27, 0.00, -0.05],
                                [0.27, -0.09, 0.03]])
COLOR_CORRELATION = _COLOR_SVD_SQRT / _COLOR_SVD_SQRT.norm(dim=0).max()


class PixelImage(nn.Module):
    """The pixels themselves, started as small noise around the middle of the range; clamped after each step."""

    def __init__(self, shape: tuple[int, int, int], lo: float = 0.0, hi: float = 1.0, init_std: float = 0.01,
                 generator: torch.Generator | None = None, batch: int = 1, init: torch.Tensor | None = None):
        super().__init__()
        self.lo, self.hi = lo, hi
        if init is None:
            init = (lo + hi) / 2 + init_std * (hi - lo) * torch.randn((batch, *shape), generator=generator)
        self.pixels = nn.Parameter(init.detach().clone().reshape(-1, *shape))

    def forward(self) -> torch.Tensor:
        return self.pixels

    @torch.no_grad()
    def project(self) -> None:
        self.pixels.clamp_(self.lo, self.hi)


def rfft2d_freqs(h: int, w: int) -> torch.Tensor:
    """|frequency| of every coefficient of a real 2-d FFT of an h×w image: shape (h, w // 2 + 1)."""
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


class FourierImage(nn.Module):
    """An image whose parameters are its Fourier coefficients scaled by 1/|f|^decay; colours decorrelated for RGB;
    squashed into [lo, hi] with a sigmoid."""

    def __init__(self, shape: tuple[int, int, int], lo: float = 0.0, hi: float = 1.0, init_std: float = 0.01,
                 decay_power: float = 1.0, decorrelate: bool = True, generator: torch.Generator | None = None,
                 batch: int = 1):
        super().__init__()
        C, H, W = shape
        self.shape, self.lo, self.hi = shape, lo, hi
        freqs = rfft2d_freqs(H, W)
        # 1/|f| whitening; the DC term is given the lowest non-zero frequency's scale instead of infinity
        self.register_buffer("scale", (1.0 / torch.clamp(freqs, min=1.0 / max(H, W)) ** decay_power)[None, None])
        self.spectrum = nn.Parameter(init_std * torch.randn((batch, C, *freqs.shape, 2), generator=generator))
        self.decorrelate = decorrelate and C == 3

    def forward(self) -> torch.Tensor:
        C, H, W = self.shape
        coeffs = torch.view_as_complex(self.spectrum) * self.scale
        # 'ortho' keeps the image's scale independent of its size; /4 is Lucent's empirical start-range factor
        image = torch.fft.irfft2(coeffs, s=(H, W), norm="ortho") / 4.0  # (B, C, H, W)
        if self.decorrelate:
            image = torch.einsum("bchw,dc->bdhw", image, COLOR_CORRELATION.to(image))
        return self.lo + (self.hi - self.lo) * torch.sigmoid(image)

    def project(self) -> None:
        """Nothing to do: the sigmoid keeps every pixel inside [lo, hi]."""


def make_image(kind: str, shape: tuple[int, int, int], lo: float, hi: float, generator: torch.Generator,
               decorrelate: bool = True, batch: int = 1, init_std: float = 0.01) -> nn.Module:
    """A batch of `batch` images of `shape` (C, H, W), parameterised as `kind`, starting as noise of `init_std`."""
    if kind == "pixel":
        image = PixelImage(shape, lo, hi, init_std=init_std, generator=generator, batch=batch)
        image.project()
        return image
    if kind == "fourier":
        return FourierImage(shape, lo, hi, init_std=init_std, decorrelate=decorrelate, generator=generator,
                            batch=batch)
    raise ValueError(f"unknown image parameterisation. Choose 'pixel' or 'fourier'. Received: param={kind!r}")

