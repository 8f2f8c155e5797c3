"""Benchmark: the box tasks' templates trained by the engine to the issue's targets on full MNIST.

    python benchmarks/train_detect.py [--data-root ../shared/data/mnist] [--task detect|locate|both]
                                      [--epochs-detect 30] [--epochs-locate 15] [--limit N] [--max-steps N]
                                      [--batch-size B] [--lr LR] [--device auto]

1. "Tiny grid detector" on mnist-detect (1-5 digits per 96×96 canvas, ~20k training canvases from the 60k
   digits, ~3.3k test canvases from the 10k test digits): target mAP@0.5 >= 0.95 on the test canvases.
2. "Digit localiser" on mnist-locate (one digit per 56×56 canvas, 60k / 10k): target mean IoU >= 0.85 with
   >= 98% class accuracy.
Both go through engine.train.trainer.train with the template's training recipe (engine.templates.template_train;
--batch-size / --lr override it; the app's defaults otherwise). Prints, per epoch, the validation numbers, then
epochs, seconds, training images/s and the first epoch that met the target (or "not reached"). --limit N trains on
the first N digits only and --max-steps N ends each run after N optimiser steps (validating there), so the script
finishes on a CPU (the targets are then usually not reached). Nothing is asserted: the figures are the result.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.templates import template_train  # noqa: E402
from engine.train.config import TrainConfig  # noqa: E402
from engine.train.rundir import RunDir  # noqa: E402
from engine.train.trainer import train  # noqa: E402

TASKS = {
    "detect": ("tiny_grid_detector", "mnist-detect", lambda r: r.get("val_map50", 0) >= 0.95,
               "mAP@0.5 >= 0.95", ("val_map50", "val_map", "val_obj", "val_cls", "val_box")),
    "locate": ("digit_localiser", "mnist-locate",
               lambda r: r.get("val_iou", 0) >= 0.85 and r.get("val_acc", 0) >= 0.98,
               "mean IoU >= 0.85 and accuracy >= 98%", ("val_iou", "val_acc", "val_acc_iou50", "val_loss")),
}


def bench(task: str, args, out: Path) -> dict:
    template, data, met, target, keys = TASKS[task]
    epochs = args.epochs_detect if task == "detect" else args.epochs_locate
    cfg = {**template_train(template), "data": data, "data_root": args.data_root, "epochs": epochs,
           "device": args.device, "limit": args.limit, "max_steps": args.max_steps, "log_every": 50}
    cfg.update({k: v for k, v in (("batch_size", args.batch_size), ("lr", args.lr)) if v is not None})
    shown = {**TrainConfig().to_dict(), **cfg}  # the app's defaults where the recipe says nothing
    print(f"{template}: " + ", ".join(f"{k} {shown[k]}" for k in ("optimizer", "lr", "schedule", "batch_size",
                                                                     "epochs", "max_steps", "limit")), flush=True)
    t0 = time.perf_counter()
    run = train(ROOT / "assets" / "templates" / f"{template}.json", cfg, out / task)
    wall = time.perf_counter() - t0
    rd = RunDir(run)
    status = rd.status()
    rows = [r for r in rd.metrics()[0] if r["kind"] == "epoch"]
    print(f"\n== {template} on {data} ({status['state']}: {status['message']})")
    reached = None
    for r in rows:
        flag = met(r)
        reached = reached or (r["epoch"] if flag else None)
        print(f"  epoch {r['epoch']:>5}  " + "  ".join(f"{k} {r.get(k, float('nan')):.4f}" for k in keys)
              + f"  {r['images_per_s']:.0f} img/s  t={r['elapsed']:.0f}s" + ("  <- target" if flag else ""))
    ips = [r["images_per_s"] for r in rows if r.get("images_per_s")]
    summary = {"task": task, "epochs": len(rows), "seconds": round(wall, 1),
               "train_images_per_s": round(sum(ips) / len(ips), 1) if ips else None,
               "target": target, "reached_at_epoch": reached, "last": {k: rows[-1].get(k) for k in keys} if rows else {}}
    print(json.dumps(summary))
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    ap.add_argument("--task", choices=["detect", "locate", "both"], default="both")
    ap.add_argument("--epochs-detect", type=int, default=30)
    ap.add_argument("--epochs-locate", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=None, help="default: the template's recipe (else 128)")
    ap.add_argument("--lr", type=float, default=None, help="default: the template's recipe (else 2e-3)")
    ap.add_argument("--max-steps", type=int, default=None, help="end each run after N steps (CPU)")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N digits only (CPU)")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for task in (["detect", "locate"] if args.task == "both" else [args.task]):
            bench(task, args, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
