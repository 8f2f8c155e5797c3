"""Defaults that depend on the device: what the app pre-fills when the user presses Start and changes nothing.

On a GPU the seed CNN is limited by kernel launches at batch 128 (a 60k-image epoch is 469 small steps); at batch
512 the GPU is busy (issue 12's anchor, by hand on one H100: 174,562 images/s at batch 512 against 38,000 at 128,
99% test accuracy after 1.05 s, about 3 epochs). Not settled yet: on a CPU (fp32, seed 0) the 2 default epochs at
batch 512 and Adam 2e-3 one-cycle end at 98.84% test accuracy, short of 99%; the epochs or the lr for a GPU are to
be measured there (benchmarks/train_mnist.py, `make gpu-check`). On the CPU the smaller batch learns more per
second. `device_defaults` says which settings change and why; the Train
page shows the reason, the command line applies the same settings when they are not given.
"""
from __future__ import annotations

import torch

from engine.train.config import TrainConfig

APP_DEFAULTS = {"log_every": 10}  # the Train page's own: a point every 10 steps, the curves move from the first seconds
GPU = {"batch_size": 512}  # lr stays TrainConfig's 2e-3: the one-cycle peak that works at both batch sizes


def auto_device(cuda_available: bool | None = None) -> torch.device:
    """The device "auto" picks (cuda_available injected by tests; None asks torch)."""
    has = torch.cuda.is_available() if cuda_available is None else cuda_available
    return torch.device("cuda" if has else "cpu")


def device_defaults(device: torch.device | str) -> tuple[dict, str | None]:
    """(the settings that differ from TrainConfig's defaults on this device, a sentence saying so or None)."""
    if torch.device(device).type != "cuda":
        return {}, None
    return dict(GPU), (f"On a GPU the default batch size is {GPU['batch_size']} (128 on a CPU): small batches leave "
                       f"the GPU waiting on kernel launches; the learning rate schedule is the same.")


def default_batch_size(device: torch.device | str | None = None) -> int:
    """The batch size a run on this device (default: the one "auto" picks) trains with when none is given; the
    Design page's and `engine check`'s memory estimates assume this same one."""
    return int(device_defaults(device or auto_device())[0].get("batch_size", TrainConfig.batch_size))


def app_settings(device: torch.device | str) -> dict:
    """What the Train page starts with on this device when the user changes nothing (the benchmarks train this)."""
    return {**APP_DEFAULTS, **device_defaults(device)[0]}


def apply_device_defaults(options: dict, cuda_available: bool | None = None) -> dict:
    """options with the device's defaults filled in where the user gave none (the command line's path)."""
    dev = options.get("device", "auto")
    device = auto_device(cuda_available) if dev == "auto" else torch.device(dev)
    return {**device_defaults(device)[0], **options}
