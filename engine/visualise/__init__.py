"""Looking inside a trained network: one class per method, each `run(...)` returning a small dataclass of pictures
and the numbers that say how good they are. Hooks are always removed and the model restored (guard.py).

    Filters(model, graph).run("conv1")                        kernels as an image grid
    Activations(model, graph).run(x, ["relu1", "relu2"])      feature maps + the prediction
    SaliencyMap / IntegratedGradientsMap / GuidedBackpropMap / GradCamMap / OcclusionMap / SmoothGradMap
        (model, graph, ...).run(x)                            Captum maps + deletion AUC vs random order
    ModelRandomisation(method).run(images)                    Adebayo et al.'s sanity check (Spearman)
    CascadingRandomisation(method).run(images)                the same, layer by layer from the top
    FaithfulnessLab(model, graph).run(images, methods)        deletion, insertion, randomisation, with 95% CIs
    ClassVisualisation(model, cfg, graph).run(3)              Simonyan et al.'s class image + softmax prob
    ChannelVisualisation(model, "relu2", cfg, graph).run(5, dataset=images)   + ratio to the best real image
    FeatureInversion(model, "conv1", graph).run(x)            Mahendran & Vedaldi + feature error, PSNR, SSIM
"""
from engine.visualise.activations import Activations, ActivationsResult, LayerActivation
from engine.visualise.ascent import (
                                     AscentConfig,
                                     ChannelAscentResult,
                                     ChannelVisualisation,
                                     ClassAscentResult,
                                     ClassVisualisation,
)
from engine.visualise.faithfulness import FaithfulnessLab, MethodFaithfulness
from engine.visualise.filters import Filters, FiltersResult
from engine.visualise.guard import ModelGuard, hook_count
from engine.visualise.inversion import FeatureInversion, InversionConfig, InversionResult, invert_depths
from engine.visualise.layers import Tap, conv_taps, resolve, taps
from engine.visualise.metrics import Deletion, Insertion, deletion, insertion, psnr, spearman, ssim
from engine.visualise.saliency import (
                                     METHODS,
                                     AttributionMethod,
                                     GradCamMap,
                                     GuidedBackpropMap,
                                     IntegratedGradientsMap,
                                     OcclusionMap,
                                     SaliencyMap,
                                     SaliencyResult,
                                     SmoothGradMap,
)
from engine.visualise.sanity import (
                                     CascadeResult,
                                     CascadingRandomisation,
                                     ModelRandomisation,
                                     SanityResult,
                                     randomised_copy,
)
from engine.visualise.stats import Interval, interval

__all__ = [
    "METHODS", "Activations", "ActivationsResult", "AscentConfig", "AttributionMethod", "CascadeResult",
    "CascadingRandomisation", "ChannelAscentResult", "FaithfulnessLab", "Insertion", "Interval", "MethodFaithfulness",
    "insertion", "interval",
    "ChannelVisualisation", "ClassAscentResult", "ClassVisualisation", "Deletion", "FeatureInversion", "Filters",
    "FiltersResult", "GradCamMap", "GuidedBackpropMap", "IntegratedGradientsMap", "InversionConfig",
    "InversionResult", "LayerActivation", "ModelGuard", "ModelRandomisation", "OcclusionMap", "SaliencyMap",
    "SaliencyResult", "SanityResult", "SmoothGradMap", "Tap", "conv_taps", "deletion", "hook_count",
    "invert_depths", "psnr", "randomised_copy", "resolve", "spearman", "ssim", "taps",
]
