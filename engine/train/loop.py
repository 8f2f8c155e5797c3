"""The training loop: `Run`, one session of a run directory (fresh or resumed), with the Stop flag it polls.

The data sits on the device; each epoch is one on-device randperm, each batch an index into it. Metrics
accumulate on the device and are read every `log_every` steps (one sync), so the loop never waits on the GPU
otherwise. A stop request (SIGTERM, or `should_stop`) ends the current step, writes the last checkpoint and sets
status "stopped"; a resumed run continues from it exactly: weights, optimizer, schedule, every RNG and the
position inside the epoch are restored, so 2 epochs straight and 1 + resume 1 give the same weights.
"""
from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from engine.codegen import build_module
from engine.data import load_data, to_float
from engine.graph import Graph
from engine.shapes import check
from engine.train.augment import augment, resolve_augment
from engine.train.checks import TrainError, check_fit, resolve_device, resolve_precision
from engine.train.config import TrainConfig
from engine.train.diagnostics import start_diagnostics
from engine.train.evaluate import autocast, evaluate, write_results
from engine.train.fingerprint import DesignChanged, design_changes, design_fingerprint
from engine.train.headline import fmt_score
from engine.train.health import divergence_warning
from engine.train.log import MetricsLog
from engine.train.optim import init_uniform, lr_factor, make_optimizer, make_scheduler
from engine.train.rundir import RunDir
from engine.train.shuffle import shuffled_labels
from engine.train.store import CheckpointMismatch, diff_state_dict, load_weights_into

__all__ = ["Run", "Stop", "signals"]




class Stop:
    """Set by SIGTERM/SIGINT; also asks the optional `should_stop(step)` hook (tests stop at an exact step)."""

    def __init__(self, hook: Callable[[int], bool] | None):
        self.flag = False
        self.hook = hook

    def __call__(self, step: int) -> bool:
        return self.flag or (self.hook is not None and bool(self.hook(step)))


@contextmanager
def signals(stop: Stop):
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # only a flag: the loop checkpoints between steps
        stop.flag = True

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class Run:
    """One training session of a run directory (fresh or resumed): classification and segmentation.

    A task that trains differently subclasses Run in its own module under engine/train/tasks/ and overrides the
    hooks it needs (check_fit, epoch_order, train_step, evaluate, val_fields, score, finish; train_fields for the
    training figures of a metrics row, keep_best/epoch_summary/best_status for what the best is and how the status
    says it, checkpoint_state/load_checkpoint_state or optimiser_state/load_optimiser_state for what a checkpoint
    holds besides the weights); tasks.runner_for(task) picks the class. The bookkeeping around them (logged
    windows, epoch rows, best weights, checkpoints, stop, resume) is written once, here."""

    def __init__(self, g: Graph, cfg: TrainConfig, run: RunDir, stop: Stop):
        self.g, self.cfg, self.dir, self.stop = g, cfg, run, stop
        self.log: MetricsLog | None = None

    # ---- setup --------------------------------------------------------------------------------------------
    def setup(self) -> None:
        cfg = self.cfg
        self.device = dev = resolve_device(cfg.device)
        self.amp = resolve_precision(cfg.precision, dev)
        self.status("running", f"loading {cfg.data}")
        report = check(self.g)
        inp = next((n.id for n in self.g.nodes if n.op == "Input"), None)
        in_shape = report.nodes[inp].shape if report.ok and inp else None
        data = load_data(cfg.data, cfg.data_root, input_shape=in_shape, val_fraction=cfg.val_fraction,
                         seed=cfg.seed, limit=cfg.limit, task=self.g.task.kind if self.g.task else "classification")
        if cfg.shuffle_labels:
            data.y_train = shuffled_labels(data.y_train, cfg.seed)
        self.squeeze = self.check_fit(report, data)
        self.data = data.to(dev)
        self.K = data.num_classes
        self.channels_last = dev.type == "cuda" and len(data.input_shape) == 3 and not self.squeeze
        torch.manual_seed(cfg.seed)  # the weights, then dropout, draw from here
        model = build_module(self.g).to(dev)
        init_uniform(model, cfg.init_uniform)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.opt = make_optimizer(model, cfg, dev)
        N, bs = len(self.data.x_train), cfg.batch_size
        self.spe = N // bs + (1 if N % bs > 1 else 0)  # a last batch of one example is dropped (BatchNorm)
        if self.spe == 0:
            raise TrainError(f"batch_size {bs} is larger than the training set ({N} examples). Use a batch size "
                             f"of at most {N}.")
        self.planned = cfg.epochs * self.spe if cfg.max_steps is None else min(cfg.epochs * self.spe,
                                                                                  cfg.max_steps)
        self.sched = make_scheduler(self.opt, cfg.schedule, self.planned, self.spe, cfg.lr_decay, cfg.lr_decay_after)
        self.gen = torch.Generator(device=dev).manual_seed(cfg.seed)  # augmentation
        self.perm_gen = torch.Generator(device=dev)  # batch order, reseeded every epoch
        self.aug = resolve_augment(cfg.augment, data.augment)
        self.eval_bs = min(1024, max(2 * bs, 256))
        self.start_progress()

    def start_progress(self) -> None:
        """The counters of a fresh run (restore puts a checkpoint's back); every task's setup ends with them."""
        self.step = self.epoch = self.epoch_step = 0
        self.best: float | None = None
        self.design = design_fingerprint(self.g)  # in every checkpoint: a resume refuses a changed design
        self.start_loss: float | None = None  # the first step's loss, the reference for divergence
        self.warning: str | None = None
        self.elapsed = 0.0
        self.ep_sums = [0.0, 0.0, 0, 0, 0.0]  # loss*n, correct, examples, pixels, seconds of the current epoch
        self.epoch_mem: int | None = None  # the device memory peak of the current epoch's windows so far

    def check_fit(self, report, data) -> bool:
        """Raise TrainError when the graph cannot train on data (checks.check_fit); True when images must drop
        their channel axis. A task with other outputs overrides it."""
        return check_fit(self.g, report, data)

    def restore(self) -> int | None:
        """Load the last checkpoint if there is one; the step it was written at, else None."""
        ck = self.dir.load_last_state()
        if ck is None:
            return None
        tensors, st = ck
        lines = diff_state_dict(self.model.state_dict(), tensors)
        if lines:
            raise CheckpointMismatch(self.dir.checkpoints, lines)
        changed = design_changes(st.get("design"), self.design)  # none for a checkpoint older than fingerprints
        if changed:  # same tensors, another network (ReLU -> Tanh, a dropout p): refused too
            raise DesignChanged(st["step"], changed)
        self.model.load_state_dict(tensors)
        self.load_checkpoint_state(st)
        return self.step

    def load_checkpoint_state(self, st: dict) -> None:
        """Put back what checkpoint_state() saved (a task's Run that adds to it puts its own back too)."""
        self.load_optimiser_state(st)
        torch.set_rng_state(st["rng_cpu"])
        if self.device.type == "cuda" and st.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(st["rng_cuda"], self.device)
        self.gen.set_state(st["gen"])
        self.step, self.epoch, self.epoch_step = st["step"], st["epoch"], st["epoch_step"]
        self.best, self.elapsed, self.ep_sums = st["best"], st["elapsed"], list(st["ep_sums"])
        self.start_loss, self.warning = st.get("start_loss"), st.get("warning")

    def load_optimiser_state(self, st: dict) -> None:
        self.opt.load_state_dict(st["optimizer"])
        self.sched.load_state_dict(st["scheduler"])
        if self.sched.base_lrs[0] != self.cfg.lr:  # config.json's lr was changed to resume (e.g. after a NaN)
            self.sched.base_lrs = [self.cfg.lr] * len(self.opt.param_groups)
            for group in self.opt.param_groups:
                group["initial_lr"] = self.cfg.lr
                group["lr"] = self.cfg.lr * lr_factor(self.cfg.schedule, self.sched.last_epoch, self.planned)

    def checkpoint(self) -> None:
        self.dir.save_last(self.model, self.checkpoint_state())

    def checkpoint_state(self) -> dict:
        """Everything but the weights that an exact resume needs (a task's Run adds its own to it)."""
        return {**self.optimiser_state(),
                 "rng_cpu": torch.get_rng_state(), "gen": self.gen.get_state(),
                 "rng_cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                 "step": self.step, "epoch": self.epoch, "epoch_step": self.epoch_step, "best": self.best,
                 "elapsed": self.now(), "ep_sums": list(self.ep_sums), "design": self.design,
                 "start_loss": self.start_loss, "warning": self.warning}

    def optimiser_state(self) -> dict:
        """The optimiser's and the schedule's state; a task that moves the weights its own way overrides this and
        load_optimiser_state."""
        return {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict()}

    # ---- helpers ------------------------------------------------------------------------------------------
    def now(self) -> float:
        return self.elapsed + (time.perf_counter() - self.t0)

    def status(self, state: str, message: str, say: bool = False, **extra) -> None:
        if say:  # into log.txt for a person reading it
            print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)
        self.dir.write_status(state, message, pid=os.getpid(), step=getattr(self, "step", 0),
                     epoch=getattr(self, "epoch", 0), total_steps=getattr(self, "planned", None),
                     data=self.cfg.data, **extra)

    def device_mem(self, epoch: bool = False) -> int | None:
        """Peak bytes on the GPU since the last metrics row (None on a CPU): each logged window's own peak, so a
        row shows what that stretch needed. epoch=True: the peak of the whole epoch, its evaluation included."""
        if self.device.type != "cuda":
            return None
        peak = torch.cuda.max_memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        self.epoch_mem = max(peak, self.epoch_mem or 0)
        if epoch:
            peak, self.epoch_mem = self.epoch_mem, None
        return peak

    def evaluate(self, keep: bool = False) -> dict:
        return evaluate(self.model, self.data.x_val, self.data.y_val, self.K, batch=self.eval_bs, amp=self.amp,
                        squeeze=self.squeeze, channels_last=self.channels_last, keep=keep)

    def val_fields(self, ev: dict) -> dict:
        out = {"val_loss": ev["val_loss"], "val_acc": ev["val_acc"]}
        if "val_miou" in ev:
            out["val_miou"] = ev["val_miou"]
        return out

    def train_fields(self, loss_sum: float, correct: float, n: int, pixels: int, per_s: float | None) -> dict:
        """A metrics row's training fields from the sums over its stretch (a logged window's or an epoch's): the
        loss summed over n examples, correct pixels (or examples) of `pixels`, and examples per second."""
        return {"train_loss": loss_sum / n if n else None, "train_acc": correct / pixels if pixels else None,
                "lr": getattr(self, "lr", self.cfg.lr), "images_per_s": per_s}

    # ---- the loop -----------------------------------------------------------------------------------------
    def run(self, resume_step: int | None) -> str:
        cfg, dev = self.cfg, self.device
        self.log = MetricsLog(self.dir.metrics_path, self.dir.tb_path, resume_step)
        self.diag = start_diagnostics(self, resume_step)  # per-layer diagnostics every diag_every steps, or None
        self.t0 = time.perf_counter()
        bs = cfg.batch_size
        z = lambda: torch.zeros((), device=dev)
        self.w = [z(), z(), 0, 0, time.perf_counter()]  # window: loss*n, correct, examples, pixels, start time
        self.bad_step = torch.full((), -1, device=dev, dtype=torch.int64)
        self.bad_loss = z()
        self.model.train()
        self.status("running", f"training: epoch {self.epoch + 1}/{cfg.epochs}", warning=self.warning)
        while self.epoch < cfg.epochs and self.step < self.planned:
            perm = self.epoch_order()
            ep_t0 = time.perf_counter()
            while self.epoch_step < self.spe and self.step < self.planned:
                if self.stop(self.step):
                    self.ep_sums[4] += time.perf_counter() - ep_t0
                    return self.halt()
                i = self.epoch_step * bs
                record = self.diag is not None and self.diag.due(self.step + 1)
                if record:
                    self.diag.arm()
                self.train_step(perm[i:i + bs])
                if record:
                    self.diag.write(self.diag.collect(self.step))
                if self.step % cfg.log_every == 0 or self.step == 1:  # step 1 sets start_loss (divergence)
                    self.log_window()
                if cfg.val_every and self.step % cfg.val_every == 0 and self.epoch_step < self.spe:
                    t = time.perf_counter()
                    ev = self.evaluate()
                    self.w[4] += time.perf_counter() - t  # images/s counts training time only
                    self.log_window(self.val_fields(ev))
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self.log_window()
                    self.checkpoint()
                    self.w[4] = time.perf_counter()
            self.ep_sums[4] += time.perf_counter() - ep_t0
            self.end_epoch(partial=self.epoch_step < self.spe)
        return "finished"

    def epoch_order(self) -> torch.Tensor:
        """The training examples of this epoch in batch order; train_step gets consecutive slices of batch_size.
        It depends on (seed, epoch) only, so a resumed run redraws the same one."""
        self.perm_gen.manual_seed(self.cfg.seed * 1_000_003 + self.epoch)
        return torch.randperm(len(self.data.x_train), generator=self.perm_gen, device=self.device)

    def score(self, ev: dict) -> tuple[str, float]:
        """The validation number that picks the best weights (higher is better), with its name."""
        return ("mean IoU", ev["val_miou"]) if "val_miou" in ev else ("accuracy", ev["val_acc"])

    def train_step(self, idx: torch.Tensor) -> None:
        d, cfg = self.data, self.cfg
        xb, yb = to_float(d.x_train[idx]), d.y_train[idx].long()
        if self.aug != "none":
            xb, yb = augment(xb, yb, self.aug, self.gen)
        if self.squeeze:
            xb = xb.squeeze(1)
        elif self.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.amp):
            out = self.model(xb)
        out = out.float()
        loss = F.cross_entropy(out, yb, label_smoothing=cfg.label_smoothing)
        self.optimise(loss)
        n = yb.shape[0]
        self.w[0] += loss.detach() * n
        self.w[1] += (out.argmax(1) == yb).sum()
        self.w[2] += n
        self.w[3] += yb.numel()

    def optimise(self, loss: torch.Tensor, objective: torch.Tensor | None = None) -> None:
        """One optimiser step on `objective` (the loss itself unless the task minimises a multiple of it), the
        schedule's step, the counters, and the first step whose (logged) loss is not finite."""
        cfg = self.cfg
        self.opt.zero_grad(set_to_none=True)
        (loss if objective is None else objective).backward()
        if cfg.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad_norm, foreach=True)
        self.lr = self.opt.param_groups[0]["lr"]
        self.opt.step()
        self.sched.step()
        self.step += 1
        self.epoch_step += 1
        ld = loss.detach()
        first_bad = ~torch.isfinite(ld) & (self.bad_step < 0)  # remember the first bad step without a sync
        self.bad_step = torch.where(first_bad, self.step, self.bad_step)
        self.bad_loss = torch.where(first_bad, ld, self.bad_loss)

    def check_finite(self, bad_step: int, bad_loss: float) -> None:
        if bad_step < 0:
            return
        what = "NaN" if math.isnan(bad_loss) else "infinite"
        before = self.dir.last_checkpoint()
        ptr = self.dir.drop_poisoned(bad_step)  # the weights of step bad_step - 1 made that loss: not kept
        dropped = (f"the checkpoint of step {before['step']} already held the diverged weights and was removed; "
                   if before and (not ptr or ptr["step"] != before["step"]) else "")
        kept = dropped + (f"the last good checkpoint (step {ptr['step']}) is kept" if ptr else
                          "no good checkpoint is left, so a resume starts over")
        raise TrainError(f"loss became {what} at step {bad_step}; {kept}; try a lower learning rate (now "
                         f"{self.cfg.lr:g}), gradient clipping (clip_grad_norm=1.0) or a BatchNorm after each layer.")

    def log_window(self, val: dict | None = None) -> None:
        """Read the window's sums from the device (the one sync), check for NaN, write a step line."""
        w = self.w
        if w[2] == 0 and val is None:
            return
        loss_sum, correct, bad_step, bad_loss = torch.stack(
            [w[0].double(), w[1].double(), self.bad_step.double(), self.bad_loss.double()]).tolist()
        self.check_finite(int(bad_step), bad_loss)
        dt = max(time.perf_counter() - w[4], 1e-9)
        row = {"kind": "step", "step": self.step, "epoch": round(self.epoch + self.epoch_step / self.spe, 4),
               **self.train_fields(loss_sum, correct, w[2], w[3], w[2] / dt if w[2] else None),
               "elapsed": round(self.now(), 3), "device_mem": self.device_mem(), **(val or {})}
        self.watch_loss(row)
        self.log.write(row)
        s = self.ep_sums
        s[0] += loss_sum
        s[1] += correct
        s[2] += w[2]
        s[3] += w[3]
        self.w = [torch.zeros_like(w[0]), torch.zeros_like(w[1]), 0, 0, time.perf_counter()]
        self.status("running", f"training: epoch {self.epoch + 1}/{self.cfg.epochs}, step {self.step}/"
                               f"{self.planned}")

    def watch_loss(self, row: dict) -> None:
        """Keep the first step's loss; warn once (status, log.txt) when a later one has diverged far above it, and
        mark every row from then on."""
        loss = row.get("train_loss")
        if self.start_loss is None:
            self.start_loss = loss
        elif self.warning is None:
            self.warning = divergence_warning(self.start_loss, loss, self.step, self.cfg.lr)
            if self.warning:
                self.status("running", f"warning: {self.warning}", say=True, warning=self.warning)
        if self.warning:
            row["diverged"] = True

    def end_epoch(self, partial: bool) -> None:
        self.log_window()
        ev = self.evaluate()
        s = self.ep_sums
        epoch_value = round(self.epoch + self.epoch_step / self.spe, 4) if partial else self.epoch + 1
        row = {"kind": "epoch", "step": self.step, "epoch": epoch_value,
               **self.train_fields(s[0], s[1], s[2], s[3], s[2] / s[4] if s[4] else None),
               "elapsed": round(self.now(), 3), "device_mem": self.device_mem(epoch=True), **self.val_fields(ev)}
        if self.warning:
            row["diverged"] = True
        self.log.write(row)
        if self.keep_best(ev):
            self.dir.save_best(self.model, {"epoch": epoch_value, "step": self.step, **self.val_fields(ev)})
        if not partial:
            self.epoch += 1
            self.epoch_step = 0
        self.ep_sums = [0.0, 0.0, 0, 0, 0.0]
        self.checkpoint()
        summary, fields = self.epoch_summary(ev)
        self.status("running", say=True, message=f"epoch {epoch_value}/{self.cfg.epochs} done: {summary}", **fields)
        self.w[4] = time.perf_counter()

    def keep_best(self, ev: dict) -> bool:
        """Take ev's score as the best when it beats the best so far (the best weights are then saved)."""
        metric = self.score(ev)[1]
        if self.best is None or metric > self.best:
            self.best = metric
            return True
        return False

    def epoch_summary(self, ev: dict) -> tuple[str, dict]:
        """What the status says after "epoch e/E done: ", and the fields status.json keeps with it."""
        name, metric = self.score(ev)
        return f"{self.data.val_name} {fmt_score(name, metric)}", {**self.best_status(), "best_metric": name}

    def best_status(self) -> dict:
        """The best validation figure so far as status.json names it (engine.train.headline reads it)."""
        return {"best_val_acc": self.best}

    def halt(self) -> str:
        self.log_window()
        self.checkpoint()
        self.status("stopped", say=True, message=f"stopped at step {self.step}/{self.planned} (epoch {self.epoch + 1}); the "
                               f"checkpoint is saved: resume to continue.", **self.best_status())
        return "stopped"

    def chosen_weights(self) -> tuple[str, dict]:
        """Load the weights validation chose into the model (the best, else the last checkpoint's): "best" or
        "last", and their metadata (epoch, step, validation figures)."""
        best = self.dir.weights("best")  # falls back to the last checkpoint
        meta = load_weights_into(self.model, best) if best else {}
        return ("best" if best == self.dir.best_path else "last"), meta

    def finish(self) -> None:
        self.status("running", "computing the results")
        which, meta = self.chosen_weights()
        selected_on = self.data.val_name
        self.data = self.data.test_view()  # the test split, seen once, now, on the weights validation chose
        res = write_results(self.dir, self.model, self.data, batch=self.eval_bs, amp=self.amp, squeeze=self.squeeze,
                            channels_last=self.channels_last, weights=which, epoch=meta.get("epoch"),
                            selected_on=selected_on, selection=meta)
        name, value = ("mean IoU", res["miou"]) if self.data.task == "segmentation" else ("accuracy",
                                                                                         res["accuracy"])
        seg = {"test_miou": res["miou"]} if "miou" in res else {}
        self.log.write({"kind": "test", "step": self.step, "weights_epoch": meta.get("epoch"),
                        "split": res["split"], "test_loss": res["loss"], "test_acc": res["accuracy"], **seg,
                        "elapsed": round(self.now(), 3), **({"diverged": True} if self.warning else {})})
        self.status("finished", say=True, message=f"finished: {self.data.val_name} {name} {value:.2%} ({which} weights, epoch "
                                f"{meta.get('epoch')}) after {self.step} steps in {self.now():.0f} s.",
                    **self.best_status())
