"""The data-randomisation test of Adebayo et al. 2018, trainer side: the same design and settings trained on
randomly permuted training labels. The network can only memorise such labels, so a saliency method whose maps
look the same on this model as on the properly trained one is not explaining what the network learned.

This module is what the trainer applies with TrainConfig.shuffle_labels; engine/train/twin.py starts such a run for
an existing one with one call.
"""
from __future__ import annotations

import torch


def shuffled_labels(y: torch.Tensor, seed: int) -> torch.Tensor:
    """The training targets permuted along the example axis (a fixed permutation per seed): every example keeps
    a real label of the data set, just not its own. Validation and test labels are left alone, so the run reports
    the chance-level accuracy that proves the labels carried no signal."""
    gen = torch.Generator().manual_seed(int(seed) + 7919)  # not the batch-order stream of the same seed
    return y[torch.randperm(len(y), generator=gen).to(y.device)]
