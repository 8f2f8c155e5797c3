"""The verified bundle: a .zip a user can take away and trust without Convas.

    model.py                 the design as standalone PyTorch (engine.to_python)
    weights.safetensors      the trained (or freshly initialised) weights
    sample.safetensors       a batch of inputs as the model saw them in the app, the app's outputs, the labels
    test_model.py            checks model.py + weights reproduce those outputs (python test_model.py / pytest)
    train.py                 retrains the model with the run's settings; runs under torchrun (DDP)
    box_loss.py              localisation / detection only: the losses train.py optimises (engine.detect's)
    train_config.json        those settings, the input shape, the task
    data_sample.safetensors  a small sample of the run's data (uint8), what train.py uses without --data-root
    graph.json               the design, to open again in Convas
    bundle.json              name, versions, parameter count and the SHA-256 of every file above
    README.md

Nothing inside imports the engine. test_model.py and train.py are copied from real files beside this one
(bundle_test_template.py, bundle_train_template.py), which keeps them linted and importable.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save

from engine.atomic import atomic_write_bytes
from engine.codegen import build_module, to_python
from engine.detect.export import box_loss_source
from engine.export.rbm import recommendation_tensors
from engine.filenames import safe_filename
from engine.graph import Graph, load_graph
from engine.shapes import check

HERE = Path(__file__).resolve().parent
TRAIN_TEMPLATE = HERE / "bundle_train_template.py"
TEST_TEMPLATE = HERE / "bundle_test_template.py"
# a task that trains or checks differently ships its own train.py / test_model.py
TASK_TEMPLATES = {"recommendation": (HERE / "bundle_rbm_train_template.py", HERE / "bundle_rbm_test_template.py"),
                  "localisation": (HERE / "bundle_box_train_template.py", TEST_TEMPLATE),
                  "detection": (HERE / "bundle_box_train_template.py", TEST_TEMPLATE)}
BOX_TASKS = ("localisation", "detection")  # their train.py imports box_loss.py (engine.detect's losses, verbatim)
TRAIN_KEYS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov", "weight_decay", "schedule",
              "clip_grad_norm", "label_smoothing", "seed", "augment", "log_every", "cd_k", "persistent_cd",
              "lr_decay", "lr_decay_after", "init_uniform", "loss_sum_steps", "val_fraction")
TEXT_SAMPLE = (20_000, 5_000)  # tokens of train and validation (and test) text a language model's bundle ships


@dataclasses.dataclass
class Sample:
    """What the bundle ships of the data: uint8 images (N, C, H, W) and labels of train and validation, and of the
    test split when the run's data has one (train.py scores it once, at the end, on the weights validation chose)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    name: str = "data"
    classes: list[str] = dataclasses.field(default_factory=list)
    augment: str = "none"  # what augment="auto" meant for this data
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None

    def tensors(self) -> dict[str, torch.Tensor]:
        """data_sample.safetensors' contents."""
        out = {"x_train": self.x_train, "y_train": self.y_train, "x_val": self.x_val, "y_val": self.y_val}
        if self.x_test is not None and self.y_test is not None and len(self.x_test):
            out |= {"x_test": self.x_test, "y_test": self.y_test}
        return out


def sample_of(data: Any, n_train: int = 2000, n_val: int = 500) -> Sample:
    """The first examples of an engine.data.Data (kept small: the zip stays around a megabyte for MNIST); for
    text (engine.data.text.TextData) the first tokens of its train and validation streams, and its vocabulary."""
    if getattr(data, "task", None) == "language_model":
        empty = torch.zeros(0, dtype=torch.int64)
        return Sample(data.train[:TEXT_SAMPLE[0]].cpu().contiguous(), empty, data.valid[:TEXT_SAMPLE[1]].cpu()
                      .contiguous(), empty, name=data.name, classes=list(data.vocab),
                      x_test=data.test[:TEXT_SAMPLE[1]].cpu().contiguous(), y_test=empty)
    x_test, y_test = getattr(data, "x_test", None), getattr(data, "y_test", None)
    has_test = x_test is not None and y_test is not None
    return Sample(data.x_train[:n_train].cpu().contiguous(), data.y_train[:n_train].cpu().contiguous(),
                  data.x_val[:n_val].cpu().contiguous(), data.y_val[:n_val].cpu().contiguous(),
                  name=data.name, classes=list(data.classes), augment=getattr(data, "augment", "none"),
                  x_test=x_test[:n_val].cpu().contiguous() if has_test else None,
                  y_test=y_test[:n_val].cpu().contiguous() if has_test else None)


def build_bundle(graph: Any, out_path: str | os.PathLike, *, state_dict: dict[str, torch.Tensor] | None = None,
                 train_config: dict[str, Any] | None = None, sample: Sample | None = None,
                 batch_size: int = 16, seed: int = 0) -> Path:
    """Write the bundle .zip atomically and return its path. Without `state_dict` the weights are a fresh seeded
    initialisation; without `sample`, the sample batch is seeded uniform noise in [0, 1] and train.py needs
    --data-root."""
    data = bundle_bytes(graph, state_dict=state_dict, train_config=train_config, sample=sample,
                        batch_size=batch_size, seed=seed)
    return atomic_write_bytes(out_path, data)


def bundle_bytes(graph: Any, *, state_dict: dict[str, torch.Tensor] | None = None,
                 train_config: dict[str, Any] | None = None, sample: Sample | None = None,
                 batch_size: int = 16, seed: int = 0) -> bytes:
    """The bundle as zip bytes (what the Export page offers for download)."""
    g = load_graph(graph)
    report = check(g)
    if dataclasses.is_dataclass(train_config):
        train_config = dataclasses.asdict(train_config)
    files = bundle_files(g, report, state_dict, train_config, sample, batch_size, seed)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name, content in files.items():
            z.writestr(zipfile.ZipInfo(f"{folder_name(g)}/{name}", date_time=time.localtime()[:6]), content,
                       compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def folder_name(g: Graph) -> str:
    """The folder the zip unpacks into: the design's name as a safe file name."""
    return safe_filename(g.name, "model") + "_bundle"


def bundle_files(g: Graph, report: Any, state_dict: dict[str, torch.Tensor] | None,
                 train_config: dict[str, Any] | None, sample: Sample | None, batch_size: int,
                 seed: int) -> dict[str, bytes]:
    source = to_python(g)
    torch.manual_seed(seed)
    model = build_module(g).eval()
    if state_dict is not None:
        model.load_state_dict(state_dict)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    input_ids = [nid for nid in report.order if g.node(nid).op == "Input"]
    inputs, labels = _sample_batch(report, input_ids, sample, batch_size, seed, g)
    with torch.no_grad():
        out = model(*inputs)
    outputs = list(out) if isinstance(out, (tuple, list)) else [out]
    tensors = {f"input_{i}": x.contiguous() for i, x in enumerate(inputs)}
    tensors.update({f"output_{i}": y.detach().contiguous() for i, y in enumerate(outputs)})
    if labels is not None:
        tensors["labels"] = labels.contiguous()
    input_shape = list(report.nodes[input_ids[0]].shape)
    task = g.task.kind if g.task else "classification"
    if task == "recommendation":  # the app's top-10 for every sample user, which test_model.py reproduces
        tensors.update(recommendation_tensors(model, inputs[0]))
        tensors.pop("labels", None)  # the held-out ratings are not labels of the hidden probabilities
    train_template, test_template = TASK_TEMPLATES.get(task, (TRAIN_TEMPLATE, TEST_TEMPLATE))
    num_classes = g.task.num_classes if g.task else None
    files: dict[str, bytes] = {
        "model.py": source.encode(),
        "weights.safetensors": st_save(weights),
        "sample.safetensors": st_save(tensors),
        "graph.json": g.to_json().encode(),
        "test_model.py": test_template.read_bytes(),
        "train.py": train_template.read_bytes(),
    }
    if task in BOX_TASKS:
        files["box_loss.py"] = box_loss_source().encode()
    cfg = _train_settings(train_config, sample)
    files["train_config.json"] = _json({"train": cfg, "input_shape": input_shape, "task": task,
                                         "num_classes": num_classes,
                                         "data": (train_config or {}).get("data", sample.name if sample else None),
                                         "classes": sample.classes if sample else None})
    if sample is not None:
        files["data_sample.safetensors"] = st_save(sample.tensors())
    files["README.md"] = _readme(g, report, sample, len(input_ids), state_dict is not None).encode()
    manifest = {"name": g.name, "format": "convas-bundle", "version": 1, "torch": torch.__version__.split("+")[0],
                "params": report.total_params, "input_shapes": [list(report.nodes[i].shape) for i in input_ids],
                "output_shapes": [list(report.nodes[o].shape) for o in g.outputs], "trained": state_dict is not None,
                "sample_size": int(inputs[0].shape[0]),
                "sha256": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}}
    files["bundle.json"] = _json(manifest)
    return files


def _sample_batch(report: Any, input_ids: list[str], sample: Sample | None, batch_size: int,
                  seed: int, g: Graph | None = None) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """The batch the app runs through the model: validation images as float in [0, 1] (what the trainer feeds:
    engine.data.to_float), or seeded noise when there is no data or it does not fit the model's input. Token ids
    (an int64 Input): the first window of the validation text cut into batch_size streams (the trainer's layout)
    and its next words as labels, or seeded random ids below the vocabulary size."""
    shapes = [tuple(report.nodes[i].shape) for i in input_ids]
    if len(shapes) == 1 and report.normalised[input_ids[0]].get("dtype") == "int64":
        T = shapes[0][0]
        if sample is not None and sample.x_val.ndim == 1 and len(sample.x_val) >= batch_size * (T + 1):
            streams = sample.x_val[:len(sample.x_val) // batch_size * batch_size].view(batch_size, -1)
            return [streams[:, :T].contiguous()], streams[:, 1:T + 1].contiguous()
        V = g.task.num_classes if g is not None and g.task else 2
        gen = torch.Generator().manual_seed(seed)
        return [torch.randint(0, V, (batch_size, *shapes[0]), generator=gen)], None
    if sample is not None and len(shapes) == 1 and tuple(sample.x_val.shape[1:]) == shapes[0] and len(sample.x_val):
        x = sample.x_val[:batch_size]
        x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float()
        return [x], sample.y_val[:batch_size].long()
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand((batch_size, *s), generator=gen) for s in shapes], None


def _train_settings(train_config: dict[str, Any] | None, sample: Sample | None) -> dict[str, Any]:
    """The run's settings train.py understands; 'auto' augmentation resolved to what it meant for the data."""
    cfg = train_config or {}
    out = {k: cfg[k] for k in TRAIN_KEYS if k in cfg}
    if out.get("augment", "auto") == "auto":
        out["augment"] = sample.augment if sample else "none"
    if out.get("augment") == "auto":
        out["augment"] = "none"
    return out


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


def _readme(g: Graph, report: Any, sample: Sample | None, n_inputs: int, trained: bool) -> str:
    weights = "trained weights from a Convas run" if trained else "freshly initialised (untrained) weights"
    test = f" / {len(sample.x_test)} test" if sample is not None and sample.x_test is not None else ""
    data = (f"a sample of the run's data ({sample.name}: {len(sample.x_train)} train / {len(sample.x_val)} "
            f"validation{test} examples)" if sample else "no data (pass --data-root to train.py)")
    lines = [
        f"# {g.name} (exported from Convas)",
        "",
        f"{report.total_params:,} parameters, {weights}. Needs `torch` and `safetensors`.",
        "",
        "    python test_model.py      # checks model.py + weights.safetensors reproduce the app's outputs",
        "    pytest test_model.py      # the same, as pytest tests",
        "    python train.py           # retrain with the run's settings on the bundled sample",
        "    python train.py --data-root DIR               # ... on the MNIST-format idx files in DIR",
        "    torchrun --nproc_per_node=4 train.py          # ... on 4 GPUs (or CPU processes) with DDP",
        "",
        "Use the model:",
        "",
        "    from safetensors.torch import load_file",
        "    from model import Net",
        "    net = Net(); net.load_state_dict(load_file('weights.safetensors')); net.eval()",
        "",
        "Inputs are token ids (int64, B × T; the vocabulary is train_config.json's 'classes'); stateful recurrent "
        "layers carry their state between calls: call net.reset_state() to start a new text."
        if g.task is not None and g.task.kind == "language_model" else
        "Inputs are float pixels in [0, 1] (uint8 / 255), no mean/std normalisation.",
        f"This bundle ships {data}.",
        "",
        "train.py splits as Convas does: validation (carved from the training examples by the seed, "
        "val_fraction of them) picks the best epoch's weights, which it writes; the test split is scored once, at "
        "the end, on those weights.",
    ]
    if n_inputs > 1:
        lines.append("The model takes several inputs; train.py trains single-input models only.")
    if g.task is not None and g.task.kind in BOX_TASKS:
        lines.append(f"train.py trains this {g.task.kind} model with Convas's losses (box_loss.py) on the bundled "
                     f"sample, in one process: --data-root and torchrun are for the classification bundles.")
    return "\n".join(lines) + "\n"


def bundle_from_run(run_dir: str | os.PathLike, out_path: str | os.PathLike, which: str = "best") -> Path:
    """Write the bundle of a finished (or stopped) run: its graph, its best/last weights, its settings and data."""
    return build_bundle(**_run_parts(run_dir, which), out_path=out_path)


def run_bundle_bytes(run_dir: str | os.PathLike, which: str = "best") -> bytes:
    """The bundle of a run as zip bytes."""
    return bundle_bytes(**_run_parts(run_dir, which))


def _run_parts(run_dir: str | os.PathLike, which: str) -> dict[str, Any]:
    from engine.train.rundir import RunDir
    from engine.train.runs import load_trained

    g, model = load_trained(run_dir, which=which)
    config = RunDir(run_dir).config().to_dict()
    return {"graph": g, "state_dict": model.state_dict(), "train_config": config, "sample": load_sample(config, g)}


def load_sample(config: dict[str, Any], graph: Any) -> Sample | None:
    """A small sample of the data a run trained on (or would train on), or None when it cannot be loaded."""
    from engine.data import DataError, load_data

    g = load_graph(graph)
    report = check(g)
    inputs = [n.id for n in g.nodes if n.op == "Input"]
    shape = tuple(report.nodes[inputs[0]].shape) if inputs and report.nodes[inputs[0]].shape else None
    try:
        data = load_data(config.get("data", "mnist-sample"), config.get("data_root"), input_shape=shape,
                         val_fraction=config.get("val_fraction", 0.1), seed=config.get("seed", 0),
                         task=g.task.kind if g.task else "classification",
                         max_vocab=g.task.num_classes if g.task else 10_000)
    except (DataError, OSError, ValueError):
        return None
    return sample_of(data)
