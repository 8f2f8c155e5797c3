"""Take a design away: readable PyTorch source, TorchScript, torch.export (.pt2), ONNX, or its weights as safetensors.

Every format starts from `build_module`, i.e. from the very source `to_python` writes, so each export is the model
that trained. Models are exported in eval mode (dropout off, batch norm on its running statistics) with a dynamic
batch dimension. Files are written atomically: a temp file in the target folder, then os.replace.
"""
from __future__ import annotations

import inspect
import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from engine.atomic import atomic_write_with
from engine.codegen import build_module, node_names, to_python
from engine.errors import GraphError
from engine.graph import Graph
from engine.safeload import read_safetensors, torch_load
from engine.shapes import check, checked

FORMATS = ("py", "torchscript", "pt2", "onnx", "safetensors")
SUFFIXES = {".py": "py", ".pt": "torchscript", ".ts": "torchscript", ".pt2": "pt2", ".onnx": "onnx",
            ".safetensors": "safetensors"}
PT2_GRAPH_FILE = "convas_graph.json"  # the design, in the .pt2's extra files: engine.fx.pt2 imports it back exactly
ONNX_OPSET = 17


def format_for(path: str | os.PathLike) -> str | None:
    """The format a file name asks for (model.onnx -> 'onnx'), or None."""
    return SUFFIXES.get(Path(path).suffix.lower())


def export(g: Any, fmt: str, out_path: str | os.PathLike, state_dict: dict[str, torch.Tensor] | None = None) -> Path:
    """Write the design `g` (Graph, dict, JSON text or path) as `fmt` to out_path; returns the path.

    state_dict: trained weights (strictly matching the design); without it the weights are a fresh random init.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format. Choose one of {', '.join(FORMATS)}. Received: fmt={fmt!r}.")
    g, _ = checked(g)  # every problem of the design, shapes included, before anything is written
    out_path = Path(out_path)
    if fmt == "py":
        if state_dict is not None:
            raise ValueError("the py format is source code only; export the weights with fmt='safetensors'. "
                             "Received: a state_dict with fmt='py'.")
        atomic_write_with(out_path, lambda tmp: tmp.write_text(to_python(g), encoding="utf-8"))
        return out_path
    model = build_module(g)
    if state_dict is not None:
        load_weights_into(model, state_dict)
    model.eval()
    if fmt == "safetensors":
        atomic_write_with(out_path, lambda tmp: save_safetensors(model, g, tmp))
    elif fmt == "torchscript":
        scripted = to_torchscript(model, example_inputs(g))
        atomic_write_with(out_path, lambda tmp: _jit_save(scripted, tmp))
    elif fmt == "pt2":
        program = to_exported_program(model, g)
        atomic_write_with(out_path, lambda tmp: tmp.write_bytes(pt2_bytes(program, g)))
    else:
        atomic_write_with(out_path, lambda tmp: _onnx(model, g, tmp))
    return out_path


def example_inputs(g: Graph, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """One tensor per Input node, in forward-argument order: floats for images, zeros for int64 token ids."""
    report = check(g)
    if not report.ok:
        raise GraphError(report.errors)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for nid in input_ids(g, report):
        shape = (batch, *report.nodes[nid].shape)
        if report.normalised[nid].get("dtype") == "int64":
            out.append(torch.zeros(shape, dtype=torch.long))
        else:
            out.append(torch.randn(shape, generator=gen))
    return tuple(out)


def input_ids(g: Graph, report=None) -> list[str]:
    """Ids of the Input nodes in the order forward() takes them."""
    report = report or check(g)
    ops = {n.id: n.op for n in g.nodes}
    return [nid for nid in report.order if ops[nid] == "Input"]


def load_weights_into(model: torch.nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """load_state_dict(strict=True), with a message that lists what does not match."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state_dict) if tuple(expected[k].shape) != tuple(state_dict[k].shape))
    if missing or unexpected or wrong:
        parts = ([f"missing {', '.join(missing[:5])}"] if missing else []) + \
                ([f"unexpected {', '.join(unexpected[:5])}"] if unexpected else []) + \
                [f"{k}: the design needs {tuple(expected[k].shape)}, the weights have {tuple(state_dict[k].shape)}"
                 for k in wrong[:5]]
        raise ValueError("the weights do not fit this design. " + "; ".join(parts) + ".")
    model.load_state_dict(state_dict, strict=True)


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state_dict from .safetensors, or from a torch file loaded with weights_only=True (never unpickles code).

    A checkpoint dict holding the weights under 'model' or 'state_dict' is unwrapped.
    """
    path = Path(path)
    what = "a weights file Convas can load"  # a refused or broken file says so (engine.safeload), never torch's text
    if path.suffix.lower() == ".safetensors":
        return read_safetensors(path, what=what)[0]
    obj = torch_load(path, what=what)
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path} does not hold a state_dict (a mapping of names to tensors).")
    return dict(obj)


def save_safetensors(model: torch.nn.Module, g: Graph, path: Path) -> None:
    """The weights, with the design itself in the metadata (so the file says what it belongs to)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": "convas-weights", "graph": g.to_json()})


def to_torchscript(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> torch.jit.ScriptModule:
    """torch.jit.script when the generated code scripts (keeps every branch and train/eval behaviour); otherwise
    torch.jit.trace in eval mode, checked against the eager model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch ≥ 2.9 deprecates torch.jit; it still loads everywhere
        try:
            return torch.jit.script(model)
        except Exception:
            with torch.no_grad():
                return torch.jit.trace(model, inputs)


def to_exported_program(model: torch.nn.Module, g: Graph) -> torch.export.ExportedProgram:
    """torch.export.export in eval mode with a dynamic batch (TorchScript's successor: torch.export.load, ExecuTorch,
    AOTInductor, Model Explorer and Netron read it). A model whose code pins the batch (a Reshape written with
    the traced batch) is exported for the example batch only."""
    inputs = example_inputs(g)
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            return torch.export.export(model, inputs, dynamic_shapes=tuple({0: batch} for _ in inputs), strict=False)
        except Exception:  # noqa: BLE001 - a batch torch could not keep symbolic: the static program still runs
            return torch.export.export(model, inputs, strict=False)


def pt2_bytes(program: torch.export.ExportedProgram, g: Graph) -> bytes:
    """The .pt2 archive (torch.export.save), with the design in its extra files."""
    buf = io.BytesIO()
    torch.export.save(program, buf, extra_files={PT2_GRAPH_FILE: g.to_json()})
    return buf.getvalue()


def _jit_save(scripted: torch.jit.ScriptModule, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(scripted, str(path))


def _onnx(model: torch.nn.Module, g: Graph, path: Path) -> None:
    report = check(g)
    names = node_names(g, report)
    ins = [names[i] for i in input_ids(g, report)]
    outs = _unique([names[o] for o in g.outputs])
    kwargs: dict[str, Any] = dict(opset_version=ONNX_OPSET, input_names=ins, output_names=outs,
                                  dynamic_axes={n: {0: "batch"} for n in ins + outs})
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript-based exporter: no onnxscript needed, dynamic_axes honoured
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        torch.onnx.export(model, example_inputs(g), str(path), **kwargs)


def _unique(names: list[str]) -> list[str]:
    """ONNX output names must differ; a node listed twice in outputs gets _2, _3 ..."""
    out: list[str] = []
    for n in names:
        name, k = n, 2
        while name in out:
            name, k = f"{n}_{k}", k + 1
        out.append(name)
    return out


