"""Retrain the exported RBM recommender by contrastive divergence, with the settings of the Convas run.

    python train.py                       # on the ratings shipped in this bundle (data_sample.safetensors)
    python train.py --epochs 30 --cd-k 3  # flags override train_config.json

Each user is one vector: ratings / 5 of every movie, 0 where not rated. One step on a batch v0 calls the model's
RBM.contrastive_divergence (h0 sampled from the data, k Gibbs steps; with --persistent the negative chain carries
over between batches) and moves every parameter by velocity = momentum * velocity + lr * (gradient - weight_decay * W):
with momentum 0 that is the seed's W += lr * (<v0 h0> - <vk hk>) / batch, vb += lr * mean(v0 - vk),
hb += lr * mean(h0 - hk). It prints the mean squared reconstruction error of the training and held-out users each
epoch. Needs only torch and safetensors; nothing here imports Convas.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def load_settings(argv: list[str] | None = None) -> argparse.Namespace:
    cfg = json.loads((HERE / "train_config.json").read_text(encoding="utf-8"))
    t = cfg.get("train", {})
    ap = argparse.ArgumentParser(description="Retrain the exported RBM by contrastive divergence.")
    ap.add_argument("--epochs", type=int, default=t.get("epochs", 15))
    ap.add_argument("--batch-size", type=int, default=t.get("batch_size", 100))
    ap.add_argument("--lr", type=float, default=t.get("lr", 1.0))
    ap.add_argument("--momentum", type=float, default=t.get("momentum", 0.0))
    ap.add_argument("--weight-decay", type=float, default=t.get("weight_decay", 0.0))
    ap.add_argument("--cd-k", type=int, default=t.get("cd_k", 1))
    ap.add_argument("--persistent", action=argparse.BooleanOptionalAction, default=t.get("persistent_cd", False))
    ap.add_argument("--seed", type=int, default=t.get("seed", 0))
    ap.add_argument("--init", default=None, help="start from these weights (e.g. weights.safetensors)")
    ap.add_argument("--out", default="retrained.safetensors")
    return ap.parse_args(argv)


def find_rbm(model: torch.nn.Module) -> torch.nn.Module:
    return next(m for m in model.modules() if hasattr(m, "contrastive_divergence"))


def recon_error(rbm, v: torch.Tensor) -> float:
    """Mean squared error of the mean-field reconstruction (over every movie; rated ones only for softmax units)."""
    with torch.no_grad():
        r = rbm.predict(v)
    m = (v > 0) if rbm.softmax else torch.ones_like(v, dtype=torch.bool)
    return float((v - r).pow(2)[m].mean())


def train(args: argparse.Namespace) -> dict:
    from safetensors.torch import load_file, save_file

    sys.path.insert(0, str(HERE))
    from model import Net

    data = load_file(str(HERE / "data_sample.safetensors"))
    x_train, x_val, y_val = data["x_train"].float(), data["x_val"].float(), data["y_val"].float()
    torch.manual_seed(args.seed)
    model = Net()
    if args.init:
        model.load_state_dict(load_file(args.init))
    rbm = find_rbm(model)
    params = [rbm.W, rbm.vb, rbm.hb]
    vel = [torch.zeros_like(p) for p in params]
    gen = torch.Generator().manual_seed(args.seed)
    chain = None
    n = len(x_train)
    result = {}
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed * 1_000_003 + epoch - 1))
        for i in range(0, n, args.batch_size):
            v0 = x_train[perm[i:i + args.batch_size]]
            if args.persistent and chain is None:
                chain = rbm.sample_h(v0, gen)[1]
            c = chain[:len(v0)] if args.persistent else None
            dW, dvb, dhb, _, h = rbm.contrastive_divergence(v0, args.cd_k, gen, c)
            if args.persistent:
                chain[:len(v0)] = h
            with torch.no_grad():
                for p, g, v in zip(params, (dW - args.weight_decay * rbm.W, dvb, dhb), vel):
                    v.mul_(args.momentum).add_(g, alpha=args.lr)
                    p.add_(v)
        result = {"epoch": epoch, "train_error": recon_error(rbm, x_train), "val_error": recon_error(rbm, x_val + y_val)}
        print(f"epoch {epoch}: reconstruction error train {result['train_error']:.4f}  held-out users "
              f"{result['val_error']:.4f}", flush=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, args.out)
    print(f"wrote {args.out}")
    return result


def main(argv: list[str] | None = None) -> int:
    train(load_settings(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
