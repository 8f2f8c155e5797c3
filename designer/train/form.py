"""The training settings form: dataset, task, hyperparameters, device -> a validated TrainConfig (or its problems).

Defaults come from engine.train.config.TrainConfig; the last settings used are kept in session state (as a dict)
so they survive a visit to another page (Streamlit forgets the widgets of pages not shown).
"""
from __future__ import annotations

import dataclasses

import streamlit as st
import torch

from engine.data.ratings import SOURCES as RATINGS
from engine.train.config import AUGMENTS, OPTIMIZERS, PRECISIONS, SCHEDULES, TrainConfig
from engine.train.defaults import APP_DEFAULTS, auto_device, device_defaults
from engine.train.distributed import device_count
from engine.train.tasks import TASK_DEFAULTS

DATASETS = {"mnist-sample": "MNIST sample (bundled)", "mnist": "MNIST (60k)",
            "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
            "mnist-seg": "MNIST segmentation", "mnist-locate": "MNIST localisation (one digit, its box)",
            "mnist-detect": "MNIST detection (1–5 digits, boxes)",
            "movielens-sample": "MovieLens sample (bundled, 150 users)",
            "movielens-small": "MovieLens small (610 users)", "ptb-sample": "PTB sample (bundled text)",
            "ptb": "Penn Treebank", "folder": "Folder, .zip or .txt…"}
OPT_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}
SCHED_NAMES = {"constant": "constant", "step": "step (÷10 at 50%, 75%)", "cosine": "cosine",
               "onecycle": "one-cycle"}




@dataclasses.dataclass
class Submitted:
    """What "Start training" hands the page: the settings, checked once here, and the task for the design."""

    config: TrainConfig | None  # None when there are problems
    problems: list[str]  # one message per bad option ("what is wrong. Received: name=value.")
    task: dict  # {"kind", "num_classes"}


def _defaults(kind: str = "classification") -> dict:
    d = st.session_state.get("train_config") or {}
    on_device, _ = device_defaults(auto_device())  # e.g. a larger batch on a GPU
    if (kind == "recommendation") != (d.get("data") in RATINGS):  # the last settings were for another kind of data
        d = {}
    return {**TrainConfig().to_dict(), **APP_DEFAULTS, **on_device, **TASK_DEFAULTS.get(kind, {}), **d}


def batch_size(graph: dict) -> int:
    """The batch size the Train page will start with for this design: the one value the Design page's memory
    estimate uses too."""
    return int(_defaults(_task_of(graph)[0])["batch_size"])


def set_batch_size(n: int) -> None:
    """Change that batch size from another page (the Design page's memory estimate): the Train form opens with it."""
    st.session_state.train_config = {**(st.session_state.get("train_config") or {}), "batch_size": int(n)}


def _task_of(graph: dict) -> tuple[str, int]:
    t = graph.get("task") or {}
    return t.get("kind", "classification"), int(t.get("num_classes", 10))


def render_form(graph: dict, can_start: bool) -> Submitted | None:
    """Draw the form. On Start: the submitted settings (a valid TrainConfig, or the problems); otherwise None."""
    kind, k = _task_of(graph)
    d = _defaults(kind)
    devices = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with st.form("train_settings", border=True):
        c_data, c_opt, c_sched, c_run = st.columns(4, gap="medium")
        with c_data:
            st.markdown("**:material/dataset: Data**")
            known = d["data"] if d["data"] in DATASETS else "folder"
            data = st.selectbox("Dataset", list(DATASETS), index=list(DATASETS).index(known),
                                format_func=DATASETS.get, key="tf_data")
            path = st.text_input("Folder / .zip or data root", value=d["data"] if known == "folder" else
                                 (d.get("data_root") or ""), key="tf_path",
                                 placeholder="optional: where the files are",
                                 help="For an image folder or .zip, a UTF-8 .txt or a .zip of train/valid/test .txt "
                                      "files, a ratings.csv: its path. For MNIST / Fashion-MNIST / CIFAR / PTB / "
                                      "MovieLens: the folder that holds the files (default: the download cache).")
            tasks = ["classification", "segmentation", "localisation", "detection", "recommendation",
                     "language_model"]
            task = st.selectbox("Task", tasks, index=tasks.index(kind) if kind in tasks else 0, key="tf_task",
                                help="segmentation: a class per pixel (e.g. MNIST segmentation); localisation: one "
                                     "object's class and box; detection: boxes on a grid (YOLO style); "
                                     "recommendation: an RBM on movie ratings, trained by contrastive divergence "
                                     "(MovieLens); language_model: the next word at every step (e.g. PTB)")
            classes = st.number_input("Classes (vocabulary size V for a language model)", 1, 1_000_000, k,
                                      key="tf_classes")
        with c_opt:
            st.markdown("**:material/tune: Optimiser**")
            opt = st.selectbox("Optimiser", OPTIMIZERS, index=OPTIMIZERS.index(d["optimizer"]),
                               format_func=OPT_NAMES.get, key="tf_opt")
            lr = st.number_input("Learning rate", 1e-6, 10.0, float(d["lr"]), format="%.4g", key="tf_lr")
            bs = st.number_input("Batch size", 1, 65536, int(d["batch_size"]), key="tf_bs")
            mom = st.number_input("Momentum (SGD)", 0.0, 0.999, float(d["momentum"]), key="tf_mom")
        with c_sched:
            st.markdown("**:material/show_chart: Schedule**")
            epochs = st.number_input("Epochs", 1, 1000, int(d["epochs"]), key="tf_epochs")
            sched = st.selectbox("Learning-rate schedule", SCHEDULES, index=SCHEDULES.index(d["schedule"]),
                                 format_func=SCHED_NAMES.get, key="tf_sched")
            wd = st.number_input("Weight decay", 0.0, 1.0, float(d["weight_decay"]), format="%.4g", key="tf_wd")
            aug = st.selectbox("Augmentation", AUGMENTS, index=AUGMENTS.index(d["augment"]), key="tf_aug",
                               help="auto: none for digits, random crop + flip for CIFAR. Localisation and "
                                    "detection: none unless chosen; crop shifts and flip mirrors the boxes with "
                                    "the image")
        with c_run:
            st.markdown("**:material/memory: Run**")
            dev = st.selectbox("Device", devices, index=devices.index(d["device"]) if d["device"] in devices else 0,
                               key="tf_dev", help="auto: the GPU when there is one")
            prec = st.selectbox("Precision", PRECISIONS, index=PRECISIONS.index(d["precision"]), key="tf_prec",
                                help="auto: bf16 autocast on GPUs that support it, else fp32")
            seed = st.number_input("Seed", 0, 2**31 - 1, int(d["seed"]), key="tf_seed")
            n_gpus = device_count()
            nproc = st.number_input("GPUs", 1, n_gpus, min(int(d["nproc"]), n_gpus), key="tf_nproc",
                                    help="train one run on several GPUs (one process each, DistributedDataParallel); "
                                         "the batch size is split between them") if n_gpus > 1 else 1
            note = device_defaults(auto_device())[1]
            if note:
                st.caption(note)
            with st.expander("More"):
                clip = st.number_input("Clip gradient norm (0: off)", 0.0, 1e6, float(d["clip_grad_norm"] or 0.0),
                                       key="tf_clip")
                smooth = st.number_input("Label smoothing", 0.0, 0.99, float(d["label_smoothing"]), key="tf_ls")
                nesterov = st.checkbox("Nesterov (SGD)", bool(d["nesterov"]), key="tf_nest")
                val = st.number_input("Validation fraction", 0.01, 0.99, float(d["val_fraction"]), key="tf_val",
                                      help="Of the training examples, carved out (by the seed) to pick the best "
                                           "weights. The test split stays apart and is measured once, at the end.")
                log_every = st.number_input("Log every N steps", 1, 100000, int(d["log_every"]), key="tf_log")
                diag_every = st.number_input("Layer diagnostics every N steps (0: off)", 0, 10**6,
                                             int(d.get("diag_every", 0)), key="tf_diag",
                                             help="per layer: activation mean/std, dead ReLUs, gradient norm, "
                                                  "update ratio; drawn on the Design page's canvas and below")
                max_steps = st.number_input("Stop after N steps (0: all)", 0, 10**9, int(d["max_steps"] or 0),
                                            key="tf_max")
                fast = st.checkbox("Fast mode (compile the network)", bool(d["fast"]), key="tf_fast",
                                   help="torch.compile: faster steps after a warm-up that compiles (seconds on a GPU, "
                                        "up to a minute on a CPU); the status shows the warm-up")
                cd_k = st.number_input("CD steps k (RBM)", 1, 100, int(d["cd_k"]), key="tf_cdk",
                                       help="Gibbs steps of contrastive divergence for the recommendation task")
                pcd = st.checkbox("Persistent CD (RBM)", bool(d["persistent_cd"]), key="tf_pcd")
                decay = st.number_input("LR decay per epoch (1: off)", 0.01, 1.0, float(d["lr_decay"]), key="tf_decay",
                                        help="multiply the learning rate by this once per epoch after the epochs "
                                             "below (the PTB recipe: 0.5 after 4)")
                decay_after = st.number_input("…after epoch", 0, 10000, int(d["lr_decay_after"]), key="tf_decay_after")
                init = st.number_input("Uniform init ±x (0: torch's)", 0.0, 10.0, float(d["init_uniform"] or 0.0),
                                       format="%.4g", key="tf_init",
                                       help="draw every weight uniformly from [−x, x] (the PTB recipe: 0.1)")
                sum_steps = st.checkbox("Sum the loss over time steps (language model)", bool(d["loss_sum_steps"]),
                                        key="tf_sum_steps",
                                        help="minimise the token loss summed over a window's steps, as the PTB "
                                             "recipe does (its lr 1.0 assumes it); perplexity stays per word")
        start = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:",
                                      disabled=not can_start)
    if not start:
        return None
    source = (path.strip() or "") if data == "folder" else data
    values = {**d, "data": source, "data_root": (path.strip() or None) if data != "folder" else None,
              "epochs": int(epochs), "batch_size": int(bs), "optimizer": opt, "lr": float(lr), "momentum": float(mom),
              "nesterov": bool(nesterov), "weight_decay": float(wd), "schedule": sched,
              "clip_grad_norm": float(clip) or None, "label_smoothing": float(smooth), "seed": int(seed),
              "device": dev, "precision": prec, "augment": aug, "val_fraction": float(val),
              "log_every": int(log_every), "diag_every": int(diag_every), "max_steps": int(max_steps) or None, "fast": bool(fast),
              "nproc": int(nproc), "cd_k": int(cd_k), "persistent_cd": bool(pcd), "lr_decay": float(decay),
              "lr_decay_after": int(decay_after), "init_uniform": float(init) or None,
              "loss_sum_steps": bool(sum_steps)}
    st.session_state.train_config = values  # kept even when refused: the form shows what the user typed
    config = TrainConfig(**values)
    problems = config.problems()
    return Submitted(None if problems else config, problems, {"kind": task or kind, "num_classes": int(classes)})
