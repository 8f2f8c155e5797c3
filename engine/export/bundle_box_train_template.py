"""Retrain the exported box model (localisation or detection) with the settings of the Convas run it came from.

    python train.py                        # on the sample of the run's data shipped here (data_sample.safetensors)
    python train.py --epochs 5 --lr 1e-3   # flags override train_config.json
    python train.py --max-steps 50         # a short check

The losses are Convas's, in box_loss.py (copied verbatim from the app's engine.detect): detection = focal loss
(torchvision.ops.sigmoid_focal_loss) on objectness and classes + GIoU and L1 on the boxes of the cells that hold an
object; localisation = cross-entropy + GIoU and L1 on the one box. Labels: detection (N, M, 5) rows of (class, x1,
y1, x2, y2) in pixels, class -1 = padding; localisation (N, 5). Pixels go to the model as uint8 / 255, as Convas
fed them. It prints the training loss and its parts every --log-every steps and the validation loss each epoch,
keeps the weights of the epoch with the lowest validation loss and writes them to --out; the sample's test split,
when it has one, is scored once, at the end, on those weights. One process (GPU if there is one); needs torch, torchvision and safetensors;
nothing here imports Convas.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def load_settings(argv: list[str] | None = None) -> argparse.Namespace:
    cfg = json.loads((HERE / "train_config.json").read_text(encoding="utf-8"))
    t = cfg.get("train", {})
    ap = argparse.ArgumentParser(description="Retrain the exported Convas box model (localisation / detection).")
    ap.add_argument("--epochs", type=int, default=t.get("epochs", 1))
    ap.add_argument("--batch-size", type=int, default=t.get("batch_size", 32))
    ap.add_argument("--lr", type=float, default=t.get("lr", 1e-3))
    ap.add_argument("--optimizer", default=t.get("optimizer", "adam"), choices=["sgd", "adam", "adamw", "rmsprop"])
    ap.add_argument("--schedule", default=t.get("schedule", "constant"),
                    choices=["constant", "step", "cosine", "onecycle"])
    ap.add_argument("--weight-decay", type=float, default=t.get("weight_decay", 0.0))
    ap.add_argument("--momentum", type=float, default=t.get("momentum", 0.9))
    ap.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=t.get("nesterov", False))
    ap.add_argument("--clip-grad-norm", type=float, default=t.get("clip_grad_norm") or 0.0)
    ap.add_argument("--label-smoothing", type=float, default=t.get("label_smoothing", 0.0),
                    help="localisation's cross-entropy")
    ap.add_argument("--seed", type=int, default=t.get("seed", 0))
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: no limit)")
    ap.add_argument("--log-every", type=int, default=t.get("log_every", 50))
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--init", default=None, help="start from these weights (e.g. weights.safetensors)")
    ap.add_argument("--out", default="retrained.safetensors")
    args = ap.parse_args(argv)
    args.task = cfg.get("task")
    args.image_size = tuple(cfg["input_shape"][1:])
    return args


def make_optimizer(args: argparse.Namespace, params) -> torch.optim.Optimizer:
    wd = args.weight_decay
    if args.optimizer == "sgd":
        return torch.optim.SGD(params, lr=args.lr, momentum=args.momentum, nesterov=args.nesterov and
                               args.momentum > 0, weight_decay=wd)
    if args.optimizer == "adam":
        return torch.optim.Adam(params, lr=args.lr, weight_decay=wd)
    if args.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=args.lr, weight_decay=wd)
    return torch.optim.RMSprop(params, lr=args.lr, alpha=0.9, weight_decay=wd)  # alpha 0.9 as Convas uses


def lr_factor(schedule: str, step: int, total: int) -> float:
    """The learning rate at `step` as a fraction of --lr (step counts from 0), as Convas schedules it."""
    t = step / max(1, total)
    if schedule == "step":
        return 1.0 if t < 0.5 else 0.1 if t < 0.75 else 0.01
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    if schedule == "onecycle":
        warm = 0.25
        if t < warm:
            return 0.04 + 0.96 * t / warm
        return 0.5 * (1 + math.cos(math.pi * (t - warm) / (1 - warm)))
    return 1.0


def losses(model: torch.nn.Module, task: str, x: torch.Tensor, y: torch.Tensor, args) -> dict[str, torch.Tensor]:
    from box_loss import detection_loss, localisation_loss

    out = model(x.float() / 255.0)
    if task == "detection":
        return detection_loss(out, y, args.image_size)
    return localisation_loss(out[0], out[1], y, args.image_size, label_smoothing=args.label_smoothing)


def evaluate(model: torch.nn.Module, task: str, x: torch.Tensor, y: torch.Tensor, args, dev) -> dict[str, float]:
    """The validation loss and its parts, averaged over examples."""
    model.eval()
    sums: dict[str, float] = {}
    with torch.no_grad():
        for i in range(0, len(x), args.batch_size):
            xb, yb = x[i:i + args.batch_size].to(dev), y[i:i + args.batch_size].to(dev)
            for k, v in losses(model, task, xb, yb, args).items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(xb)
    model.train()
    return {k: v / max(1, len(x)) for k, v in sums.items()}


def train(args: argparse.Namespace) -> dict:
    from safetensors.torch import load_file, save_file

    sys.path.insert(0, str(HERE))
    from model import Net

    if args.task not in ("localisation", "detection"):
        raise SystemExit(f"this train.py trains localisation and detection models. Received: task={args.task!r}.")
    if not (HERE / "data_sample.safetensors").exists():
        raise SystemExit("this bundle ships no data sample (data_sample.safetensors); export it from a run whose "
                         "data Convas could load.")
    dev = torch.device("cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu")
    data = load_file(str(HERE / "data_sample.safetensors"))
    x_train, y_train = data["x_train"].to(dev), data["y_train"].float().to(dev)
    x_val, y_val = data["x_val"], data["y_val"].float()
    x_test, y_test = data.get("x_test"), data["y_test"].float() if "y_test" in data else None
    torch.manual_seed(args.seed)
    model = Net()
    if args.init:
        model.load_state_dict(load_file(args.init))
    model.to(dev).train()
    opt = make_optimizer(args, model.parameters())
    n = len(x_train)
    per_epoch = max(1, math.ceil(n / args.batch_size))
    total = per_epoch * args.epochs if not args.max_steps else min(per_epoch * args.epochs, args.max_steps)
    step, history, window, best = 0, [], {}, None
    result: dict = {"task": args.task, "train_loss": history}
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed * 1_000_003 + epoch - 1))
        for i in range(0, n, args.batch_size):
            if step >= total:
                break
            idx = perm[i:i + args.batch_size].to(dev)
            if len(idx) < 2:  # BatchNorm cannot train on a batch of one
                continue
            for g in opt.param_groups:
                g["lr"] = args.lr * lr_factor(args.schedule, step, total)
            parts = losses(model, args.task, x_train[idx], y_train[idx], args)
            opt.zero_grad(set_to_none=True)
            parts["loss"].backward()
            if args.clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad_norm)
            opt.step()
            step += 1
            history.append(float(parts["loss"].detach()))
            for k, v in parts.items():
                window[k] = window.get(k, 0.0) + float(v)
            if step % args.log_every == 0 or step == total:
                count = args.log_every if step % args.log_every == 0 else step % args.log_every
                print(f"step {step}/{total}  " + "  ".join(f"{k} {v / count:.4f}" for k, v in window.items()),
                      flush=True)
                window = {}
        val = evaluate(model, args.task, x_val, y_val, args, dev)
        result.update({"epoch": epoch, "steps": step, **{f"val_{k}": v for k, v in val.items()}})
        print(f"epoch {epoch}: validation " + "  ".join(f"{k} {v:.4f}" for k, v in val.items()), flush=True)
        if best is None or val["loss"] < best["loss"]:
            best = {"loss": val["loss"], "epoch": epoch,
                    "state": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}}
        if step >= total:
            break
    if best is not None:  # the weights validation chose are the ones written and tested
        model.load_state_dict(best["state"])
        result["selected_epoch"] = best["epoch"]
        print(f"kept the weights of epoch {best['epoch']} (lowest validation loss)", flush=True)
    if x_test is not None and len(x_test):
        test = evaluate(model, args.task, x_test, y_test, args, dev)
        result.update({f"test_{k}": v for k, v in test.items()})
        print("test, once, on those weights: " + "  ".join(f"{k} {v:.4f}" for k, v in test.items()), flush=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, args.out)
    print(f"wrote {args.out}")
    return result


def main(argv: list[str] | None = None) -> int:
    train(load_settings(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
