"""TrainConfig: every knob of a training run, with defaults chosen for speed without tuning.

The defaults train the seed MNIST CNN to 99% test accuracy in two epochs: Adam at a one-cycle schedule peaking
at 2e-3, batch 128, no augmentation for digits. A run directory keeps `asdict(config)` (engine.train.rundir).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
AUGMENTS = ("auto", "none", "crop", "flip", "crop+flip")


@dataclass
class TrainConfig:
    data: str = "mnist-sample"  # mnist-sample | mnist | fashion-mnist | cifar10 | cifar100 | mnist-seg | mnist-locate | mnist-detect | folder/zip path
    data_root: str | None = None  # folder with the dataset's files (MNIST idx files, torchvision cache); None: cache
    epochs: int = 2  # passes over the training set
    batch_size: int = 128  # examples per optimizer step
    optimizer: str = "adam"  # sgd | adam | adamw | rmsprop
    lr: float = 2e-3  # learning rate (the peak of the one-cycle and cosine schedules)
    momentum: float = 0.9  # SGD momentum (Adam, AdamW and RMSprop use their own defaults)
    nesterov: bool = False  # Nesterov momentum (SGD only)
    weight_decay: float = 0.0  # L2 penalty (decoupled for AdamW)
    schedule: str = "onecycle"  # constant | step (x0.1 at 50% and 75%) | cosine | onecycle (warm-up then cosine)
    clip_grad_norm: float | None = None  # clip the global gradient norm to this value; None: no clipping
    label_smoothing: float = 0.0  # cross-entropy label smoothing in [0, 1)
    seed: int = 0  # seeds the weights, the batch order, dropout, augmentation and the train/val split
    device: str = "auto"  # auto (CUDA when present) | cpu | cuda
    precision: str = "auto"  # auto (bf16 autocast on CUDA that supports it, else fp32) | fp32 | bf16
    augment: str = "auto"  # auto (what suits the data: none for digits, crop+flip for CIFAR) | none | crop | flip | crop+flip
    val_fraction: float = 0.1  # of the training examples, carved out for validation (picks the best weights)
    log_every: int = 50  # write a "step" metrics line every N steps (metrics are read from the device only then)
    val_every: int = 0  # also validate every N steps (0: only at the end of each epoch)
    max_steps: int | None = None  # end the run after this many steps (tests, quick checks); None: all epochs
    limit: int | None = None  # train on only the first N training examples; None: all
    checkpoint_every: int = 0  # also write the last checkpoint every N steps (0: at the end of each epoch)
    fast: bool = False  # compile the training step (torch.compile): faster steps after a warm-up of seconds to a minute
    nproc: int = 1  # processes training the run together (torchrun + DistributedDataParallel, one per GPU); batch_size is the global batch
    cd_k: int = 1  # recommendation (RBM): Gibbs steps of contrastive divergence, CD-k
    persistent_cd: bool = False  # recommendation (RBM): persistent CD (the negative chain carries over between batches)
    lr_decay: float = 1.0  # multiply the lr by this once per epoch after epoch lr_decay_after (PTB recipe: 0.5)
    lr_decay_after: int = 0  # epochs at the full lr before lr_decay starts (PTB small: 4, medium: 6)
    diag_every: int = 100  # record per-layer diagnostics (activations, dead ReLUs, gradient norms, update ratios) every N steps; 0: off
    init_uniform: float | None = None  # initialise every parameter uniformly in ±x (PTB recipe: 0.1); None: torch's
    loss_sum_steps: bool = False  # language model: the loss a step minimises is summed over a window's time steps (mean over the batch), as the PTB recipe's code does; off: mean per token. Perplexity is per token either way
    shuffle_labels: bool = False  # train on randomly permuted training labels (the saliency data-randomisation test)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training option(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise ValueError naming every bad option and its value (see problems)."""
        found = self.problems()
        if found:
            raise ValueError(" ".join(found))

    def problems(self) -> list[str]:
        """One message per bad option, "what is wrong. Received: name=value."; [] for a valid config."""
        found: list[str] = []

        def need(ok: bool, what: str, name: str) -> None:
            if not ok:
                found.append(f"{what}. Received: {name}={getattr(self, name)!r}.")

        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("device", DEVICES),
                              ("precision", PRECISIONS), ("augment", AUGMENTS)):
            need(getattr(self, name) in allowed, f"{name} must be one of {', '.join(allowed)}", name)
        need(isinstance(self.epochs, int) and self.epochs >= 1, "epochs must be a whole number >= 1", "epochs")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size must be >= 1", "batch_size")
        need(self.lr > 0, "lr must be positive", "lr")
        need(0 <= self.momentum < 1, "momentum must be in [0, 1)", "momentum")
        need(self.weight_decay >= 0, "weight_decay must be >= 0", "weight_decay")
        need(self.clip_grad_norm is None or self.clip_grad_norm > 0, "clip_grad_norm must be positive or None",
             "clip_grad_norm")
        need(0 <= self.label_smoothing < 1, "label_smoothing must be in [0, 1)", "label_smoothing")
        need(0 < self.val_fraction < 1, "val_fraction must be between 0 and 1", "val_fraction")
        need(self.log_every >= 1, "log_every must be >= 1", "log_every")
        need(self.val_every >= 0, "val_every must be >= 0", "val_every")
        need(isinstance(self.diag_every, int) and self.diag_every >= 0, "diag_every must be a whole number >= 0",
             "diag_every")
        need(self.checkpoint_every >= 0, "checkpoint_every must be >= 0", "checkpoint_every")
        need(self.max_steps is None or self.max_steps >= 1, "max_steps must be >= 1 or None", "max_steps")
        need(isinstance(self.nproc, int) and self.nproc >= 1, "nproc must be a whole number >= 1", "nproc")
        need(not (isinstance(self.batch_size, int) and isinstance(self.nproc, int)) or self.batch_size < 1
             or self.batch_size >= self.nproc, "batch_size must be at least nproc (one example per process)",
             "batch_size")  # a batch_size < 1 has its own message
        need(self.limit is None or self.limit >= 1, "limit must be >= 1 or None", "limit")
        need(isinstance(self.cd_k, int) and self.cd_k >= 1, "cd_k must be a whole number >= 1", "cd_k")
        need(0 < self.lr_decay <= 1, "lr_decay must be in (0, 1]", "lr_decay")
        need(isinstance(self.lr_decay_after, int) and self.lr_decay_after >= 0, "lr_decay_after must be >= 0",
             "lr_decay_after")
        need(self.init_uniform is None or self.init_uniform > 0, "init_uniform must be positive or None",
             "init_uniform")
        need(not self.nesterov or (self.optimizer == "sgd" and self.momentum > 0),
             "nesterov needs optimizer sgd with momentum > 0", "nesterov")
        return found
