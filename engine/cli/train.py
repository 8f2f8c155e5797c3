"""python -m engine train G.json --data mnist-sample --epochs 3 [...] --out runs/   |   train --resume runs/<id>

Every TrainConfig field is an option (--batch-size, --clip-grad-norm, ...), its help the field's comment.
Prints the run directory first, then status messages; exit 0 when the run finished or was stopped, 1 when it
failed, 2 for bad arguments.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path

from engine.train.config import TrainConfig
from engine.train.rundir import RunDir

_TYPES = {"data": str, "data_root": str, "optimizer": str, "schedule": str, "device": str, "precision": str,
          "augment": str, "lr": float, "momentum": float, "weight_decay": float, "clip_grad_norm": float,
          "label_smoothing": float, "val_fraction": float, "lr_decay": float, "init_uniform": float}


def _field_help() -> dict[str, str]:
    """The comment after each TrainConfig field: the one place the options are documented."""
    src = inspect.getsource(TrainConfig)
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\s+(\w+): [^=]+=[^#\n]+#(.*)$", src, re.M)}


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a graph into a run directory (or resume one)",
                       description=f"Train a graph. The run directory gets {RunDir.GRAPH}, {RunDir.CONFIG}, "
                                   f"{RunDir.METRICS}, {RunDir.STATUS}, {RunDir.CHECKPOINTS}/, {RunDir.RESULTS} and "
                                   f"TensorBoard events under {RunDir.TB}/.")
    p.add_argument("graph", nargs="?", help="graph file (.json) to train")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue (or start) the run in RUN_DIR from its checkpoint")
    p.add_argument("--out", default="runs", help="folder that gets the new run directory (default: runs)")
    p.add_argument("--name", help="run name (default: the graph's name)")
    helps = _field_help()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        h = helps.get(f.name, "").replace("%", "%%")
        if f.default is False or f.default is True:
            p.add_argument(flag, dest=f.name, action="store_true", default=None, help=h)
        else:
            p.add_argument(flag, dest=f.name, type=_TYPES.get(f.name, int), default=None,
                           help=f"{h} (default: {f.default})")
    p.set_defaults(func=run)


def run(args) -> int:
    from engine.errors import GraphError
    from engine.train.defaults import apply_device_defaults
    from engine.train.runs import override_lr, prepare_run, release
    from engine.train.trainer import resume

    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                 if getattr(args, f.name) is not None}
    if args.resume:
        if args.graph or set(overrides) - {"lr"}:
            print("error: --resume takes the run directory (and optionally --lr): the graph and the other options "
                  "are the run's own.", file=sys.stderr)
            return 2
        run_dir = Path(args.resume)
        print(run_dir, flush=True)
        if "lr" in overrides:
            try:
                override_lr(run_dir, overrides["lr"])
            except (OSError, ValueError) as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
        resume(run_dir)
        release(run_dir)  # a run started through a queue frees its slot for the next one
    else:
        if not args.graph:
            print("error: give a graph file to train, or --resume RUN_DIR.", file=sys.stderr)
            return 2
        try:
            from engine.graph import load_graph
            from engine.train.tasks import TASK_DEFAULTS
            task = load_graph(args.graph).task
            overrides = {**TASK_DEFAULTS.get(task.kind if task else "", {}), **overrides}  # e.g. the RBM seed's
            cfg = TrainConfig.from_dict(apply_device_defaults(overrides))  # parsed and validated once, here
            run_dir = prepare_run(args.graph, cfg, args.out, args.name)
        except (GraphError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(run_dir, flush=True)
        resume(run_dir)  # trains the prepared directory: its graph and config (paths made absolute)
    status = RunDir(run_dir).status()
    print(status.get("message") or status.get("state"), flush=True)
    if status.get("warning"):  # e.g. the loss diverged without a NaN: the run "finished" but learnt nothing
        print(f"warning: {status['warning']}", flush=True)
    return 1 if status.get("state") == "failed" else 0
