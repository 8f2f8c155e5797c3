"""Live per-layer diagnostics: every `diag_every` steps the trainer records, per node of the design,

    act_mean, act_std   the mean and (population) standard deviation of the node's output over the batch
    dead                ReLU nodes only: the share of its units (output elements, per example position) that are
                        zero for every example of the batch
    grad_norm           ‖∂loss/∂w‖ over the node's parameters (weights and biases together), as backward made
                        it (before any gradient clipping)
    update_ratio        ‖Δw‖ / ‖w‖ of this step's optimizer update (w before the update); ~1e-3 is healthy

into the run directory's diagnostics file (RunDir.DIAGNOSTICS), one JSON line per recorded step:
{"step": k, "nodes": {node_id: {quantity: value or null}}}. The pages tail it like metrics.jsonl.

Cost: nothing on the steps in between. On a recorded step, forward hooks on the node modules reduce each output
to three numbers on the device, the parameters are copied once before the update, and everything is read back in
one sync after it. Nodes without a module of their own (Flatten, Add, ...) get activation statistics only if they
have a module; parameter-free nodes have no grad_norm / update_ratio (null). In fast mode (torch.compile) the
activation and gradient hooks would force a recompile, so only grad_norm (read after the step, so after clipping)
and update_ratio are recorded there. A task that learns without backpropagation (the RBM) has no grad_norm.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.atomic import atomic_write_bytes
from engine.codegen import node_names
from engine.graph import Graph
from engine.train.log import parse_lines

__all__ = ["DEAD_OPS", "LABELS", "QUANTITIES", "Diagnostics", "DiagnosticsLog", "LoggedDiagnostics", "node_modules", "series",
           "start_diagnostics"]

QUANTITIES = ("act_mean", "act_std", "dead", "grad_norm", "update_ratio")
LABELS = {"act_mean": "activation mean", "act_std": "activation std", "dead": "dead ReLU units",
          "grad_norm": "gradient norm", "update_ratio": "update ratio ‖Δw‖/‖w‖"}
DEAD_OPS = ("ReLU", "ReLU6")  # zero is the only value a dead unit of these gives


def _unwrap(model: nn.Module) -> nn.Module:
    """The generated module under a DDP wrapper (engine.train.distributed) or torch.compile."""
    for attr in ("module", "_orig_mod"):
        inner = getattr(model, attr, None)
        if isinstance(inner, nn.Module):
            return _unwrap(inner)
    return model


def node_modules(model: nn.Module, g: Graph) -> dict[str, nn.Module]:
    """Node id -> the module that computes it (self.<name> of the generated Net); nodes without one are left out."""
    base = _unwrap(model)
    out = {}
    for nid, name in node_names(g).items():
        m = getattr(base, name, None)
        if isinstance(m, nn.Module):
            out[nid] = m
    return out


class DiagnosticsLog:
    """Appends diagnostics rows to `path`; on resume keeps the rows up to the checkpoint's step (like MetricsLog)."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = Path(path)
        kept: list[dict] = []
        if resume_step is not None and self.path.exists():
            kept = [r for r in parse_lines(self.path.read_text(encoding="utf-8")) if r.get("step", 0) <= resume_step]
        atomic_write_bytes(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode(), durable=False)
        self.f = open(self.path, "a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        self.f.write(json.dumps(row) + "\n")
        self.f.flush()

    def close(self) -> None:
        self.f.close()


class Diagnostics:
    """Records the quantities above around one training step: `arm()` before it, `collect(step)` after it."""

    def __init__(self, model: nn.Module, g: Graph, every: int, activations: bool = True):
        self.every = every
        self.activations = activations
        self.modules = node_modules(model, g)
        self.dead_nodes = {n.id for n in g.nodes if n.op in DEAD_OPS}
        self.params = {nid: [p for p in m.parameters() if p.requires_grad] for nid, m in self.modules.items()}
        self.params = {nid: ps for nid, ps in self.params.items() if ps}
        self._hooks: list[Any] = []
        self._acts: dict[str, torch.Tensor] = {}
        self._grads: dict[str, list[torch.Tensor]] = {}
        self._before: dict[str, list[torch.Tensor]] = {}

    def due(self, step: int) -> bool:
        """Record the step numbered `step` (1-based: the one about to run)? The first step and every `every`-th."""
        return self.every > 0 and (step == 1 or step % self.every == 0)

    def arm(self) -> None:
        self._acts, self._grads = {}, {}
        if self.activations:
            for nid, m in self.modules.items():
                self._hooks.append(m.register_forward_hook(self._hook(nid)))
            for nid, ps in self.params.items():  # the gradient as backward leaves it, before clipping
                for p in ps:
                    self._hooks.append(p.register_post_accumulate_grad_hook(self._grad_hook(nid)))
        with torch.no_grad():
            self._before = {nid: [p.detach().clone() for p in ps] for nid, ps in self.params.items()}

    def _hook(self, nid: str):
        dead = nid in self.dead_nodes

        def hook(module, inputs, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            if not isinstance(out, torch.Tensor) or not out.is_floating_point() or out.numel() == 0:
                return
            with torch.no_grad():
                x = out.detach().float()
                std, mean = torch.std_mean(x, correction=0)
                vals = [mean, std]
                if dead:  # a unit is dead when it is zero for every example of the batch
                    vals.append(1.0 - (x != 0).any(dim=0).float().mean() if x.dim() > 1 else (x == 0).all().float())
                self._acts[nid] = torch.stack(vals)
        return hook

    def _grad_hook(self, nid: str):
        def hook(p: torch.Tensor) -> None:
            if p.grad is not None:
                self._grads.setdefault(nid, []).append(p.grad.detach().float().norm())
        return hook

    def disarm(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def collect(self, step: int) -> dict[str, Any]:
        """The row of the step just trained: every number read back from the device in one sync."""
        self.disarm()
        names: list[tuple[str, str]] = []
        vals: list[torch.Tensor] = []
        for nid, v in self._acts.items():
            names.extend((nid, k) for k in ("act_mean", "act_std", "dead")[:v.numel()])
            vals.append(v.double().reshape(-1))
        with torch.no_grad():
            for nid, ps in self.params.items():
                grads = self._grads.get(nid) if self.activations else \
                    [p.grad.detach().float().norm() for p in ps if p.grad is not None]
                if grads:
                    names.append((nid, "grad_norm"))
                    vals.append(torch.stack(grads).norm().double().reshape(1))
                before = self._before.get(nid)
                if before:
                    dw = torch.stack([(p.detach().float() - b.float()).norm() for p, b in zip(ps, before)]).norm()
                    w = torch.stack([b.float().norm() for b in before]).norm()
                    names.append((nid, "update_ratio"))  # a zero weight has no ratio: NaN, written as null
                    vals.append(torch.where(w > 0, dw / w, torch.full_like(w, float("nan"))).double().reshape(1))
        devs = {v.device for v in vals}
        flat = torch.cat([v.to(next(iter(devs))) for v in vals]).tolist() if vals else []
        nodes: dict[str, dict[str, float | None]] = {}
        for (nid, key), x in zip(names, flat):
            nodes.setdefault(nid, {q: None for q in QUANTITIES})[key] = _finite(x)
        self._acts, self._before, self._grads = {}, {}, {}
        return {"step": step, "nodes": nodes}


def _finite(x: float) -> float | None:
    return x if x == x and abs(x) != float("inf") else None


def series(rows: list[dict], quantity: str) -> dict[str, tuple[list[int], list[float | None]]]:
    """Node id -> (steps, values) of one quantity over the rows of a diagnostics file: what the pages plot."""
    out: dict[str, tuple[list[int], list[float | None]]] = {}
    for r in rows:
        for nid, q in (r.get("nodes") or {}).items():
            if not isinstance(q, dict) or quantity not in q:
                continue
            steps, vs = out.setdefault(nid, ([], []))
            steps.append(r.get("step"))
            vs.append(q[quantity])
    return {nid: sv for nid, sv in out.items() if any(v is not None for v in sv[1])}


class LoggedDiagnostics(Diagnostics):
    """Diagnostics that write each collected row to the run's diagnostics file."""

    def __init__(self, *args, log: DiagnosticsLog, **kw):
        super().__init__(*args, **kw)
        self.log = log

    def write(self, row: dict[str, Any]) -> None:
        self.log.write(row)


def start_diagnostics(run: Any, resume_step: int | None) -> LoggedDiagnostics | None:
    """The diagnostics of a training session (engine.train.loop.Run): None when run.cfg.diag_every is 0."""
    cfg = run.cfg
    if not cfg.diag_every:
        return None
    log = DiagnosticsLog(run.dir.diagnostics_path, resume_step)
    return LoggedDiagnostics(run.model, run.g, cfg.diag_every, activations=not cfg.fast, log=log)
