"""Benchmark: the PTB word-level LSTM (the seed's) trained by the engine against a hand-written PyTorch loop of the
same model in the same run; and the seed's LSTM over MNIST rows to its 98% test accuracy.

    python benchmarks/train_ptb.py [--data-root ../shared/data/ptb] [--template ptb_lstm_small] [--epochs N]
    python benchmarks/train_ptb.py --mnist-rows [--mnist-root ../shared/data/mnist] [--epochs N]

PTB (default mode): the template (assets/templates/ptb_lstm_small.json or _medium) with its recipe
(engine.templates.template_train: SGD lr 1.0 decayed per epoch, clip 5, uniform init, batch 20) trains on the full
PTB through engine.train.trainer.train; then the hand-written loop (nn.Embedding, nn.LSTM, nn.Linear, the state
carried and detached by hand, the same recipe and seed) trains the same network on the same token streams.
Prints per epoch the validation perplexity and words/s of both, then test perplexity, words/s (training steps
only) and seconds of each, and the ratio engine / hand. Targets: small ≤ 115 test perplexity (Zaremba et al.
2014: 114.5), medium ≤ 83, at ≥ 1.0× the hand loop's words/s. --epochs N stops both after N epochs (the full
recipe: 13 small, 39 medium); on a CPU run at least 1; --max-steps N stops both after N steps; --engine-only skips
the hand loop (the full recipe on a CPU, where the words/s ratio is measured on a separate, shorter idle run).

MNIST rows (--mnist-rows): the lstm_rows template (28 steps of 28 pixels, LSTM 128, FC 10) through the engine,
RMSprop lr 1e-3 batch 128 (the seed tutorial's settings) for --epochs (default 10); prints the validation accuracy
after each epoch, then the test accuracy of the weights validation chose, and the seconds it took.
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.data.text import batchify, load_text, num_windows, window  # noqa: E402
from engine.templates import load_template, template_train  # noqa: E402
from engine.train.rundir import RunDir  # noqa: E402
from engine.train.trainer import train  # noqa: E402

DEFAULT_PTB = ROOT.parent / "shared" / "data" / "ptb"
DEFAULT_MNIST = ROOT.parent / "shared" / "data" / "mnist"


class HandLM(nn.Module):
    """The PTB model as a user writes it: the state is passed in and out explicitly."""

    def __init__(self, V: int, H: int, layers: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(V, H)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(H, H, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.decoder = nn.Linear(H, V)

    def forward(self, x, state):
        out, state = self.lstm(self.drop(self.embed(x)), state)
        return self.decoder(self.drop(out)), state


@torch.no_grad()
def hand_eval(model: HandLM, streams: torch.Tensor, T: int) -> float:
    model.eval()
    state, total, n = None, 0.0, 0
    for i in range(num_windows(streams, T)):
        x, y = window(streams, i, T)
        out, state = model(x, state)
        total += F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="sum").item()
        n += y.numel()
    model.train()
    return math.exp(total / n)


def hand_loop(template: str, recipe: dict, text, device: torch.device, epochs: int, max_steps: int = 0) -> dict:
    g = load_template(template)
    V, T = g.task.num_classes, g.node("input").params["shape"][0]
    lstm = g.node("lstm").params
    H, layers, dropout = lstm["hidden_size"], lstm["num_layers"], lstm.get("dropout", 0.0)
    B = recipe["batch_size"]
    torch.manual_seed(0)
    model = HandLM(V, H, layers, dropout).to(device)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-recipe["init_uniform"], recipe["init_uniform"])
    opt = torch.optim.SGD(model.parameters(), lr=recipe["lr"])
    tr, va, te = (batchify(getattr(text, s), B).to(device) for s in ("train", "valid", "test"))
    spe = num_windows(tr, T)
    train_s, words, t_start, step = 0.0, 0, time.perf_counter(), 0
    for epoch in range(epochs):
        lr = recipe["lr"] * recipe["lr_decay"] ** max(epoch + 1 - recipe["lr_decay_after"], 0)
        for group in opt.param_groups:
            group["lr"] = lr
        state = None
        t0 = time.perf_counter()
        done = 0
        for i in range(spe):
            if max_steps and step >= max_steps:
                break
            step += 1
            done += 1
            x, y = window(tr, i, T)
            if state is not None:
                state = tuple(s.detach() for s in state)
            out, state = model(x, state)
            loss = F.cross_entropy(out.reshape(-1, V), y.reshape(-1))
            if recipe.get("loss_sum_steps"):  # the recipe's objective: summed over the T steps, mean over the batch
                loss = F.cross_entropy(out.reshape(-1, V), y.reshape(-1), reduction="sum") / B
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), recipe["clip_grad_norm"])
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        train_s += dt
        words += done * B * T
        val = hand_eval(model, va, T)
        print(f"  hand   epoch {epoch + done / spe:.4g}: val perplexity {val:8.2f}  {done * B * T / dt:9,.0f} words/s  "
              f"lr {lr:.4g}", flush=True)
        if max_steps and step >= max_steps:
            break
    return {"test_ppl": hand_eval(model, te, T), "words_per_s": words / train_s, "seconds": time.perf_counter() - t_start}


def engine_run(template: str, recipe: dict, data_root: Path, epochs: int, out: Path, max_steps: int = 0) -> dict:
    cfg = {**recipe, "data": "ptb", "data_root": str(data_root), "epochs": epochs, "seed": 0, "log_every": 200,
           "max_steps": max_steps or None}
    t0 = time.perf_counter()
    rd = RunDir(train(load_template(template), cfg, out / template))
    seconds = time.perf_counter() - t0
    status = rd.status()
    if status.get("state") != "finished":
        raise SystemExit(f"the engine's run did not finish: {status.get('message')}")
    rows = [r for r in rd.metrics()[0] if r["kind"] == "epoch"]
    for r in rows:
        print(f"  engine epoch {r['epoch']}: val perplexity {r['val_ppl']:8.2f}  {r['words_per_s']:9,.0f} words/s  "
              f"lr {r['lr']:.4g}", flush=True)
    # every epoch trains the same number of words: the overall rate is the harmonic mean of the epochs' rates
    wps = len(rows) / sum(1.0 / r["words_per_s"] for r in rows)
    return {"test_ppl": rd.results(examples=False)["perplexity"], "words_per_s": wps, "seconds": seconds}


def ptb(args: argparse.Namespace) -> None:
    recipe = template_train(args.template)
    epochs = args.epochs or recipe["epochs"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    target = {"ptb_lstm_small": 115, "ptb_lstm_medium": 83}.get(args.template)
    print(f"{args.template}: {epochs} of {recipe['epochs']} epochs on {device}, PTB from {args.data_root}; target "
          f"test perplexity <= {target} after the full recipe", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        eng = engine_run(args.template, recipe, args.data_root, epochs, Path(tmp), args.max_steps)
    if args.engine_only:
        print(f"\nengine: test perplexity {eng['test_ppl']:.2f} (target <= {target}), {eng['words_per_s']:,.0f} words/s, "
              f"{eng['seconds']:.0f} s")
        return
    text = load_text("ptb", args.data_root)
    hand = hand_loop(args.template, recipe, text, device, epochs, args.max_steps)
    print(f"\n{'':8s}{'test ppl':>10s}{'words/s':>12s}{'seconds':>10s}")
    for name, r in (("engine", eng), ("hand", hand)):
        print(f"{name:8s}{r['test_ppl']:10.2f}{r['words_per_s']:12,.0f}{r['seconds']:10.1f}")
    print(f"ratio engine/hand words/s: {eng['words_per_s'] / hand['words_per_s']:.2f}x (target >= 1.0x)")


def mnist_rows(args: argparse.Namespace) -> None:
    epochs = args.epochs or 10
    cfg = {"data": "mnist", "data_root": str(args.mnist_root), "optimizer": "rmsprop", "lr": 1e-3,
           "schedule": "constant", "batch_size": 128, "seed": 0, "log_every": 200, "epochs": epochs}
    print(f"lstm_rows (28 steps × 28 px, LSTM 128, FC 10): RMSprop 1e-3, batch 128, up to {epochs} epochs", flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rd = RunDir(train(load_template("lstm_rows"), cfg, Path(tmp) / "rows"))
        rows = [r for r in rd.metrics()[0] if r["kind"] == "epoch"]
        res = rd.results(examples=False)
    for r in rows:  # validation: carved from the training digits; it picks the weights the test is run on
        print(f"epoch {r['epoch']}: validation accuracy {r['val_acc']:.2%}  ({r['elapsed']:.0f} s of training)")
    print(f"test accuracy (the 10,000 MNIST test digits, once, on the weights of epoch {res.get('epoch')}): "
          f"{res['accuracy']:.2%} after {len(rows)} epoch(s); target >= 98%: "
          f"{'reached' if res['accuracy'] >= 0.98 else 'not reached'}")
    print(f"total {time.perf_counter() - t0:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=DEFAULT_PTB, help="folder with ptb.{train,valid,test}.txt[.gz]")
    ap.add_argument("--template", default="ptb_lstm_small", choices=["ptb_lstm_small", "ptb_lstm_medium"])
    ap.add_argument("--epochs", type=int, default=0, help="stop after N epochs (0: the template's recipe)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop both after N steps (a quick look on a CPU)")
    ap.add_argument("--engine-only", action="store_true", help="train only the engine's run (no hand loop)")
    ap.add_argument("--mnist-rows", action="store_true", help="the LSTM over MNIST rows benchmark instead")
    ap.add_argument("--mnist-root", type=Path, default=DEFAULT_MNIST, help="folder with the MNIST idx files")
    args = ap.parse_args()
    mnist_rows(args) if args.mnist_rows else ptb(args)


if __name__ == "__main__":
    main()
