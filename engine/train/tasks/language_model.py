"""The language_model task: next-word prediction over a token stream, trained with truncated backpropagation
through time.

The training text is cut into B parallel streams (B = batch_size) read in windows of T steps in order (T = the
Input's length; engine.data.text). Stateful recurrent layers carry their state from one window to the next,
detached; it is reset at the start of every epoch and every evaluation, and an evaluation in mid-epoch (val_every)
puts the training state back afterwards. The loss is token-level cross-entropy and every metric is perplexity,
exp(mean loss per token): train and validation live, test at the end. Throughput is words (tokens) per second. A
checkpoint also holds the carried state, so a run resumed mid-epoch continues exactly.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from engine.codegen import build_module
from engine.data import load_data
from engine.data.text import batchify, need_batches, num_windows, window
from engine.shapes import check
from engine.train.checks import TrainError, resolve_device, resolve_precision
from engine.train.evaluate import autocast
from engine.train.loop import Run
from engine.train.optim import init_uniform, make_optimizer, make_scheduler

TASK = "language_model"


def perplexity(mean_loss: float) -> float:
    return math.exp(min(mean_loss, 700.0))  # exp overflows a float past ~709


def ppl_text(ppl: float) -> str:
    """Two decimals for a perplexity a model can have; three digits for a diverged one (exp(loss) reaches 1e300)."""
    return f"{ppl:.2f}" if ppl < 1e5 else f"{ppl:.3g}"


def get_carried(model: torch.nn.Module) -> dict:
    """The recurrent state a stateful model carries ({} for a stateless one)."""
    return dict(getattr(model, "carried", {}))


def set_carried(model: torch.nn.Module, state: dict) -> None:
    if hasattr(model, "carried"):
        model.carried = dict(state)


def reset(model: torch.nn.Module) -> None:
    if hasattr(model, "reset_state"):
        model.reset_state()


@torch.no_grad()
def stream_loss(model: torch.nn.Module, streams: torch.Tensor, steps: int, amp: torch.dtype | None = None) -> tuple[
        float, int]:
    """(mean cross-entropy per token, tokens) over every window of `streams` (B, L) in order, from a fresh state.
    The model's mode and carried state are left as they were."""
    was_training, saved = model.training, get_carried(model)
    model.eval()
    reset(model)
    dev = streams.device
    total = torch.zeros((), device=dev, dtype=torch.float64)
    n = 0
    for i in range(num_windows(streams, steps)):
        x, y = window(streams, i, steps)
        with autocast(dev, amp):
            out = model(x)
        total += F.cross_entropy(out.float().reshape(-1, out.shape[-1]), y.reshape(-1), reduction="sum").double()
        n += y.numel()
    model.train(was_training)
    set_carried(model, saved)
    return float(total) / max(n, 1), n


class LanguageModelRun(Run):
    """Run for task language_model (see the module docstring)."""

    def setup(self) -> None:
        cfg, g = self.cfg, self.g
        self.device = dev = resolve_device(cfg.device)
        self.amp = resolve_precision(cfg.precision, dev)
        self.status("running", f"loading {cfg.data}")
        report = check(g)
        if not report.ok:
            lines = "; ".join(str(e) for e in report.errors[:5])
            raise TrainError(f"the graph has {len(report.errors)} error(s); fix them before training: {lines}")
        inputs = [n for n in g.nodes if n.op == "Input"]
        if len(inputs) != 1 or len(g.outputs) != 1:
            raise TrainError(f"a language model needs one Input (token ids) and one output (T×V scores). Received: "
                             f"{len(inputs)} Input node(s) and {len(g.outputs)} output(s).")
        V = g.task.num_classes
        self.T = T = report.nodes[inputs[0].id].shape[0]
        data = load_data(cfg.data, cfg.data_root, task=TASK, max_vocab=V, limit=cfg.limit)
        if data.num_classes != V:
            raise TrainError(f"{data.name} has a vocabulary of {data.num_classes:,} words but the graph's task says "
                             f"V = {V:,}. Set the task's vocabulary size to {data.num_classes} (Design: the graph's "
                             f"task), then apply the fixes the check offers for the Embedding and the output.")
        B = cfg.batch_size
        need_batches(data, B, T)
        self.dir.write_vocab(data.vocab)
        self.data = data.to(dev)
        self.K = V
        self.streams = {s: batchify(getattr(self.data, s), B) for s in ("train", "valid", "test")}
        torch.manual_seed(cfg.seed)  # the weights, then dropout, draw from here
        self.model = build_module(g).to(dev)
        init_uniform(self.model, cfg.init_uniform)
        self.opt = make_optimizer(self.model, cfg, dev)
        self.spe = num_windows(self.streams["train"], T)
        self.planned = cfg.epochs * self.spe if cfg.max_steps is None else min(cfg.epochs * self.spe, cfg.max_steps)
        self.sched = make_scheduler(self.opt, cfg.schedule, self.planned, self.spe, cfg.lr_decay, cfg.lr_decay_after)
        self.gen = torch.Generator(device=dev).manual_seed(cfg.seed)  # unused by the task; the checkpoint keeps it
        self.aug = "none"
        self.start_progress()  # ep_sums: loss*tokens, -, tokens, -, seconds of the current epoch

    # ---- state ------------------------------------------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        """Run's state plus the carried recurrent state (as lists of tensors: weights_only loads them)."""
        carried = {k: list(v) if isinstance(v, tuple) else [v] for k, v in get_carried(self.model).items()}
        return {**super().checkpoint_state(), "lm": {"carried": carried}}

    def load_checkpoint_state(self, st: dict) -> None:
        super().load_checkpoint_state(st)
        carried = st.get("lm", {}).get("carried", {})
        set_carried(self.model, {k: tuple(t.to(self.device) for t in v) if len(v) > 1 else v[0].to(self.device)
                                 for k, v in carried.items()})

    # ---- the hooks ------------------------------------------------------------------------------------------
    def epoch_order(self) -> torch.Tensor:
        """Windows are read in order; a new epoch starts from a fresh state (a resumed one keeps its own)."""
        if self.epoch_step == 0:
            reset(self.model)
        return torch.empty(0, dtype=torch.int64)

    def train_step(self, idx: torch.Tensor) -> None:
        cfg = self.cfg
        x, y = window(self.streams["train"], self.epoch_step, self.T)
        with autocast(self.device, self.amp):
            out = self.model(x)
        out = out.float()
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))  # mean per token: what is logged
        # the PTB recipe (Zaremba et al.; the TF tutorial's sequence_loss summed over time) minimises the sum over
        # the window's T steps: T × the per-token mean, so its lr 1.0 and clip 5 mean what they meant there
        self.optimise(loss, loss * y.shape[1] if cfg.loss_sum_steps else None)
        n = y.numel()
        self.w[0] += loss.detach() * n
        self.w[2] += n

    def evaluate(self, keep: bool = False, split: str = "valid") -> dict:
        loss, n = stream_loss(self.model, self.streams[split], self.T, self.amp)
        return {"val_loss": loss, "val_ppl": perplexity(loss), "tokens": n}

    def val_fields(self, ev: dict) -> dict:
        return {"val_loss": ev["val_loss"], "val_ppl": ev["val_ppl"]}

    def score(self, ev: dict) -> tuple[str, float]:
        return "perplexity", -ev["val_ppl"]  # lower perplexity is better

    def train_fields(self, loss_sum: float, correct: float, n: int, pixels: int, per_s: float | None) -> dict:
        """Perplexity beside the loss, and words (tokens) per second."""
        train_loss = loss_sum / n if n else None
        return {"train_loss": train_loss, "train_ppl": perplexity(train_loss) if train_loss is not None else None,
                "lr": getattr(self, "lr", self.cfg.lr), "words_per_s": per_s}

    def keep_best(self, ev: dict) -> bool:
        """The best is the lowest validation perplexity itself (status.json's best_val_ppl, the checkpoints)."""
        if self.best is None or ev["val_ppl"] < self.best:
            self.best = ev["val_ppl"]
            return True
        return False

    def epoch_summary(self, ev: dict) -> tuple[str, dict]:
        return f"validation perplexity {ppl_text(ev['val_ppl'])}", self.best_status()

    def best_status(self) -> dict:
        return {"best_val_ppl": self.best}

    def finish(self) -> None:
        self.status("running", "computing the results")
        which, meta = self.chosen_weights()
        val = self.evaluate(split="valid")
        test = self.evaluate(split="test")
        res = {"task": TASK, "data": self.data.name, "split": "test", "weights": which, "epoch": meta.get("epoch"),
               "n": test["tokens"], "loss": test["val_loss"], "perplexity": test["val_ppl"],
               "val_loss": val["val_loss"], "val_perplexity": val["val_ppl"], "vocab_size": self.K,
               "steps": self.T, "batch_size": self.cfg.batch_size}
        self.dir.write_results(res, {})
        self.log.write({"kind": "test", "step": self.step, "epoch": meta.get("epoch"), "test_loss": test["val_loss"],
                        "test_ppl": test["val_ppl"], "elapsed": round(self.now(), 3)})
        self.status("finished", say=True, message=f"finished: test perplexity {ppl_text(test['val_ppl'])} (validation "
                                                  f"{ppl_text(val['val_ppl'])}; {which} weights, epoch {meta.get('epoch')}) "
                                                  f"after {self.step} steps in {self.now():.0f} s.",
                    **self.best_status())
