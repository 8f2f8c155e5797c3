"""Device-dependent defaults, with the device injected: the GPU path is checked on a CPU-only machine."""
from __future__ import annotations

import torch

from engine.train.config import TrainConfig
from engine.train.defaults import apply_device_defaults, auto_device, device_defaults


def test_a_gpu_gets_a_larger_batch_and_says_why():
    settings, why = device_defaults(torch.device("cuda"))
    assert settings == {"batch_size": 512} and "512" in why and "GPU" in why
    assert TrainConfig(**settings).problems() == []


def test_a_cpu_keeps_the_config_defaults():
    assert device_defaults("cpu") == ({}, None)
    assert auto_device(cuda_available=False).type == "cpu" and auto_device(cuda_available=True).type == "cuda"


def test_the_command_line_fills_in_the_gpu_defaults_only_where_none_is_given():
    assert apply_device_defaults({}, cuda_available=True) == {"batch_size": 512}
    assert apply_device_defaults({"batch_size": 64}, cuda_available=True) == {"batch_size": 64}
    assert apply_device_defaults({"device": "cpu"}, cuda_available=True) == {"device": "cpu"}
    assert apply_device_defaults({}, cuda_available=False) == {}
