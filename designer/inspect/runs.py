"""The runs the Inspect page can open and what it loads from one: the graph, the trained model (shared between
sessions, with a lock so one session's hooks never meet another's forward pass), the layers, and test images."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st
import torch

from engine.catalog import get_op, has_op
from engine.data import DataError, load_data, to_float
from engine.data.builtin import load_mnist_sample
from engine.graph import Graph
from engine.shapes import check
from engine.train import runs as R
from engine.train.config import TrainConfig
from engine.train.rundir import RunDir
from engine.visualise import Tap, conv_taps, taps

SAMPLE_IMAGES = 1000  # test images kept per run: the channel ratio's dataset and the input picker's choices


@dataclass
class LoadedRun:
    id: str
    path: Path
    stamp: str  # RunDir.stamp() of the checkpoints: part of every cache key
    graph: Graph
    model: torch.nn.Module
    input_shape: tuple[int, ...]
    classes: list[str]
    taps: dict[str, Tap]
    conv_taps: dict[str, Tap]
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def is_image_model(self) -> bool:
        return len(self.input_shape) == 3 and self.input_shape[0] in (1, 3)

    def first_activation(self, names: list[str]) -> int:
        """Index in `names` of the first layer of the catalog's Activation category (where feature maps are worth
        looking at: after the non-linearity), else 0."""
        return next((i for i, n in enumerate(names) if has_op(self.taps[n].op)
                     and get_op(self.taps[n].op).category == "Activation"), 0)

    @property
    def drawable(self) -> bool:
        return self.input_shape == (1, 28, 28)


def inspectable_runs(root: Path) -> list[dict]:
    """Runs that finished (or were stopped) and have weights, newest first."""
    out = []
    for r in R.list_runs(root):
        if r["status"] in ("finished", "stopped") and RunDir(r["path"]).weights("best") is not None:
            out.append(r)
    return out


def weights_stamp(run_path: str | Path) -> str:
    """Changes when the run writes a checkpoint, so load_run loads the new weights."""
    return RunDir(run_path).stamp()


@st.cache_resource(max_entries=4, show_spinner="Loading the trained model…")
def load_run(run_path: str, stamp: str) -> LoadedRun:
    """The run's graph and best weights (cached per run and checkpoint time), on the GPU when there is one:
    gradient ascent and inversion are hundreds of forward/backward passes."""
    graph, model = R.load_trained(run_path)
    if torch.cuda.is_available():
        model = model.to("cuda")
    report = check(graph)
    shape = next(report.nodes[n.id].shape for n in graph.nodes if n.op == "Input")
    classes = _class_names(RunDir(run_path), graph)
    return LoadedRun(Path(run_path).name, Path(run_path), stamp, graph, model, tuple(shape), classes,
                     taps(graph, model), conv_taps(graph, model))


def _class_names(run: RunDir, graph: Graph) -> list[str]:
    names = (run.results(examples=False) or {}).get("classes")
    if isinstance(names, list) and names:
        return [str(c) for c in names]
    n = graph.task.num_classes if graph.task else 10
    return [str(i) for i in range(n)]


@st.cache_resource(max_entries=4, show_spinner="Loading test images…")
def test_images(run_path: str, input_shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Up to SAMPLE_IMAGES images of the run's validation/test split as floats in [0, 1], their labels, and where
    they came from. Falls back to the bundled MNIST sample for 1×28×28 models whose data cannot be loaded here."""
    try:
        cfg = RunDir(run_path).config()
    except (OSError, ValueError):  # a run from an older version, or a damaged config: the defaults' data
        cfg = TrainConfig()
    try:
        data = load_data(cfg.data, cfg.data_root, input_shape=input_shape, val_fraction=cfg.val_fraction,
                         seed=cfg.seed)
        data = data.test_view() if hasattr(data, "test_view") else data  # the test split: images the run neither trained on nor chose its weights by
        if tuple(data.x_val.shape[1:]) == tuple(input_shape) and data.task == "classification":
            return to_float(data.x_val[:SAMPLE_IMAGES]), data.y_val[:SAMPLE_IMAGES], f"{data.name} ({data.val_name})"
    except (DataError, OSError, RuntimeError, ValueError):
        pass
    if tuple(input_shape) == (1, 28, 28):
        data = load_mnist_sample()
        return to_float(data.x_val[:SAMPLE_IMAGES]), data.y_val[:SAMPLE_IMAGES], "the bundled MNIST sample"
    return torch.zeros(0, *input_shape), torch.zeros(0, dtype=torch.long), "none"
