"""Attribution maps through Captum, one class per method, each map scored by its deletion AUC.

Every method answers "which input pixels does the class score depend on?" differently: the plain gradient
(Simonyan et al. 2013), the gradient integrated along a path from a baseline (Sundararajan et al. 2017), the
gradient with negative signals stopped at every ReLU (Springenberg et al. 2015), the gradient-weighted feature
maps of a chosen layer (Grad-CAM, Selvaraju et al. 2017), the score drop when a window is covered (Zeiler &
Fergus 2014), and the gradient averaged over noisy copies (SmoothGrad, Smilkov et al. 2017). A picture alone
cannot say which is right, so each result carries its deletion and insertion AUC beside the same AUCs for random
orders (with their 95% interval).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from captum.attr import GuidedBackprop, IntegratedGradients, LayerGradCam, NoiseTunnel, Occlusion, Saliency
from torch import nn

from engine.visualise.guard import ModelGuard, Progress, model_device, no_progress
from engine.visualise.layers import Tap, resolve, taps
from engine.visualise.metrics import RANDOM_ORDERS, Deletion, Insertion, deletion, insertion


@dataclass
class SaliencyResult:
    method: str
    target: int  # the class explained
    prob: float  # its softmax probability for the input
    attribution: torch.Tensor  # (C, H, W) raw attribution, signed, on the CPU (Grad-CAM: (1, H, W) upsampled)
    map: torch.Tensor  # (H, W) importance ≥ 0, scaled to [0, 1]: what is drawn and what deletion follows
    deletion: Deletion | None
    seconds: float
    note: str = ""  # what a reader should know about this method (e.g. its sanity-check behaviour)
    insertion: Insertion | None = None  # the RISE insertion curve beside the deletion one


def _scale01(m: torch.Tensor) -> torch.Tensor:
    """Each map of a (B, H, W) batch scaled to [0, 1] (a constant map becomes all zeros)."""
    flat = m.flatten(1)
    lo, hi = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]
    return torch.where(hi > lo, (m - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(m))


class AttributionMethod:
    """Base: `run(x, target)` for one image (map + deletion AUC); `maps(x, targets)` for a batch."""

    name = ""
    note = ""

    def __init__(self, model: nn.Module, graph=None):
        self.model = model
        self.graph = graph

    def _attribute(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) inputs -> (B, C', H, W) attributions; called inside a ModelGuard."""
        raise NotImplementedError

    def _aggregate(self, attr: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) attribution -> (B, H, W) importance ≥ 0. Default: the largest |value| over channels
        (Simonyan et al.'s rule for colour images)."""
        return attr.abs().amax(dim=1)

    def maps(self, x: torch.Tensor, target: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Batched: (attributions (B, C', H, W), maps (B, H, W) in [0, 1]), both on the CPU."""
        device = model_device(self.model)
        x = x.to(device)
        with ModelGuard(self.model), warnings.catch_warnings():
            # Captum warns that it sets requires_grad on the input and hooks the ReLUs: both are intended here
            warnings.filterwarnings("ignore", category=UserWarning, module="captum")
            if target is None:
                with torch.no_grad():
                    target = self.model(x).argmax(1)
            target = torch.as_tensor(target, device=device).reshape(-1).expand(x.shape[0])
            attr = self._attribute(x.detach().clone().requires_grad_(), target).detach()
        return attr.cpu(), _scale01(self._aggregate(attr)).cpu()

    def run(self, x: torch.Tensor, target: int | None = None, *, deletion_steps: int = 28, baseline: float = 0.0,
            random_orders: int = RANDOM_ORDERS, progress: Progress = no_progress) -> SaliencyResult:
        """x: (C, H, W) or (1, C, H, W). target None = the predicted class."""
        t0 = time.perf_counter()
        x = (x if x.dim() == 4 else x[None]).to(model_device(self.model))
        with torch.no_grad(), ModelGuard(self.model):
            probs = torch.softmax(self.model(x), 1)[0]
        target = int(probs.argmax()) if target is None else int(target)
        progress(0.0, f"{self.name}: attributing class {target}")
        attr, m = self.maps(x, torch.tensor([target]))
        progress(0.6, f"{self.name}: deletion curve")
        with ModelGuard(self.model):
            d = deletion(self.model, x, m[0], target, deletion_steps, baseline, random_orders)
            progress(0.8, f"{self.name}: insertion curve")
            ins = insertion(self.model, x, m[0], target, deletion_steps, random_orders)
        progress(1.0, f"{self.name}: done")
        return SaliencyResult(self.name, target, float(probs[target]), attr[0], m[0], d,
                              time.perf_counter() - t0, self.note, ins)


class SaliencyMap(AttributionMethod):
    """|∂ score / ∂ x| (Simonyan et al. 2013)."""

    name = "Saliency"

    def _attribute(self, x, target):
        return Saliency(self.model).attribute(x, target=target, abs=False)


class IntegratedGradientsMap(AttributionMethod):
    """Gradients integrated from a baseline image to x (Sundararajan et al. 2017)."""

    name = "Integrated Gradients"
    note = ("With a black (zero) baseline, Integrated Gradients is zero wherever the input is zero, so on digits on a "
            "black background its map is mostly the digit itself: it fails the model-randomisation check here, as "
            "Gradient⊙Input does in Adebayo et al. 2018.")

    def __init__(self, model: nn.Module, graph=None, n_steps: int = 32, baseline: float = 0.0):
        super().__init__(model, graph)
        self.n_steps, self.baseline = n_steps, baseline

    def _attribute(self, x, target):
        return IntegratedGradients(self.model).attribute(x, baselines=self.baseline, target=target,
                                                         n_steps=self.n_steps, internal_batch_size=256)

    def _aggregate(self, attr):
        return attr.sum(dim=1).abs()


class GuidedBackpropMap(AttributionMethod):
    """The gradient with negative signals zeroed at every ReLU on the way back (Springenberg et al. 2015)."""

    name = "Guided Backprop"
    note = ("Guided Backprop is known to fail the model-randomisation sanity check (Adebayo et al. 2018): its maps "
            "look much the same on a network with random weights, because they mostly reconstruct the input's edges "
            "rather than explain the trained network. Read it as an edge picture, not as evidence.")

    def _attribute(self, x, target):
        return GuidedBackprop(self.model).attribute(x, target=target)


class GradCamMap(AttributionMethod):
    """The layer's feature maps weighted by their mean gradient, ReLU'd, upsampled to the input
    (Selvaraju et al. 2017). `layer`: a node id (with graph), a module or a Tap; default the last spatial layer."""

    name = "Grad-CAM"

    def __init__(self, model: nn.Module, graph=None, layer=None):
        super().__init__(model, graph)
        self.tap: Tap = resolve(model, layer, graph) if layer is not None else default_cam_layer(model, graph)

    def _attribute(self, x, target):
        cam = LayerGradCam(self.model, self.tap.module).attribute(
            x, target=target, relu_attributions=True, attribute_to_layer_input=self.tap.side == "input")
        return F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def _aggregate(self, attr):
        return attr[:, 0].clamp_min(0)


class OcclusionMap(AttributionMethod):
    """The drop in the class score when a window of the input is set to the baseline (Zeiler & Fergus 2014)."""

    name = "Occlusion"

    def __init__(self, model: nn.Module, graph=None, window: int = 6, stride: int = 2, baseline: float = 0.0):
        super().__init__(model, graph)
        if window < 1 or stride < 1:
            raise ValueError(f"occlusion window and stride must be ≥ 1. Received: window={window}, stride={stride}")
        self.window, self.stride, self.baseline = window, stride, baseline

    def _attribute(self, x, target):
        C = x.shape[1]
        return Occlusion(self.model).attribute(
            x, sliding_window_shapes=(C, self.window, self.window), strides=(C, self.stride, self.stride),
            baselines=self.baseline, target=target, perturbations_per_eval=64)

    def _aggregate(self, attr):
        return attr.sum(dim=1).clamp_min(0)  # evidence for the class is a score drop: the positive part


class SmoothGradMap(AttributionMethod):
    """The saliency map averaged over noisy copies of the input (SmoothGrad via Captum's NoiseTunnel)."""

    name = "SmoothGrad"

    def __init__(self, model: nn.Module, graph=None, samples: int = 16, noise: float = 0.15, seed: int = 0):
        super().__init__(model, graph)
        self.samples, self.noise, self.seed = samples, noise, seed

    def _attribute(self, x, target):
        with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
            torch.manual_seed(self.seed)
            return NoiseTunnel(Saliency(self.model)).attribute(
                x, nt_type="smoothgrad", nt_samples=self.samples, nt_samples_batch_size=self.samples,
                stdevs=self.noise, target=target, abs=False)


METHODS: dict[str, type[AttributionMethod]] = {
    c.name: c for c in (SaliencyMap, IntegratedGradientsMap, GuidedBackpropMap, GradCamMap, OcclusionMap,
                        SmoothGradMap)}


def default_cam_layer(model: nn.Module, graph) -> Tap:
    """The last node with a spatial (C, H, W) output, H·W > 1, that is not a pool or dropout: the last conv block's
    output, Grad-CAM's usual choice (a pool after it would only halve the map's resolution)."""
    if graph is None:
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise ValueError("Grad-CAM needs a convolutional layer; this model has none. Received: layer=None")
        return resolve(model, convs[-1])
    spatial = [t for t in taps(graph, model).values() if t.shape and len(t.shape) == 3 and t.shape[1] * t.shape[2] > 1]
    if not spatial:
        raise ValueError("Grad-CAM needs a layer with a spatial (C×H×W) output; this graph has none.")
    blocks = [t for t in spatial if "Pool" not in t.op and "Dropout" not in t.op]
    return (blocks or spatial)[-1]
