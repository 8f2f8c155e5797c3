"""What the two box tasks (localisation, detection) share on top of Run: one optimiser step from a loss with parts,
the parts' running sums logged as train_<part> beside train_loss, the image size, and the results' shared fields.

Augmentation is off unless chosen (`augment`: crop | flip | crop+flip); then engine.detect.augment shifts and
mirrors the boxes with the pixels (the classification crops and flips of engine/train/augment would not move them).
"""
from __future__ import annotations

import torch

from engine.catalog.arith import fmt_shape
from engine.data import Data, to_float
from engine.detect.augment import augment_boxes
from engine.train.checks import TrainError
from engine.train.evaluate import autocast, selection_fields
from engine.train.loop import Run

N_EXAMPLES = 16  # validation images kept with their boxes for the results


SOURCES = {"localisation": "mnist-locate", "detection": "mnist-detect"}


def check_input(g, report, data: Data) -> None:
    """The checks every task makes before its outputs' (engine.train.checks.check_fit): a graph without errors,
    one Input of the data's shape, the data's task."""
    if not report.ok:
        lines = "; ".join(str(e) for e in report.errors[:5])
        raise TrainError(f"the graph has {len(report.errors)} error(s); fix them before training: {lines}")
    inputs = [n for n in g.nodes if n.op == "Input"]
    if len(inputs) != 1:
        raise TrainError(f"training needs a graph with one Input. Received: {len(inputs)} Input node(s).")
    inp = inputs[0]
    want, have = report.nodes[inp.id].shape, data.input_shape
    if want != have:
        raise TrainError(f"the data's examples are {fmt_shape(have)} but the Input '{inp.id}' expects "
                         f"{fmt_shape(want)}. Set {inp.id}.shape to {list(have)}, or choose data whose examples "
                         f"are {fmt_shape(want)}. Received: data={data.name!r}.")
    task = g.task.kind if g.task else "classification"
    if task != data.task:
        raise TrainError(f"the graph's task is {task} but {data.name} is {data.task} data. Choose "
                         f"{SOURCES.get(task, 'a ' + task + ' dataset')} or set the graph's task to {data.task}.")


class BoxRun(Run):
    PARTS: tuple[str, ...] = ()  # loss parts, besides the total, in the order loss() returns them

    def setup(self) -> None:
        super().setup()
        self.image_size = tuple(self.data.input_shape[1:])
        self.parts = torch.zeros(len(self.PARTS), device=self.device)

    def forward(self, xb: torch.Tensor):
        with autocast(self.device, self.amp):
            return self.model(xb)

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        xb = to_float(x)
        return xb.contiguous(memory_format=torch.channels_last) if self.channels_last else xb

    def train_batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training examples idx as floats, augmented with their boxes when the run asks for it."""
        xb, yb = to_float(self.data.x_train[idx]), self.data.y_train[idx]
        if self.aug != "none":
            xb, yb = augment_boxes(xb, yb, self.aug, self.gen)
        return (xb.contiguous(memory_format=torch.channels_last) if self.channels_last else xb), yb

    def optimise(self, loss: torch.Tensor) -> None:
        """Run.train_step's optimiser step, schedule, counters and first-NaN bookkeeping."""
        cfg = self.cfg
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_grad_norm:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad_norm, foreach=True)
        self.lr = self.opt.param_groups[0]["lr"]
        self.opt.step()
        self.sched.step()
        self.step += 1
        self.epoch_step += 1
        ld = loss.detach()
        first_bad = ~torch.isfinite(ld) & (self.bad_step < 0)
        self.bad_step = torch.where(first_bad, self.step, self.bad_step)
        self.bad_loss = torch.where(first_bad, ld, self.bad_loss)

    def count(self, parts: dict[str, torch.Tensor], n: int) -> None:
        self.w[0] += parts["loss"].detach() * n
        self.w[2] += n
        self.parts += torch.stack([parts[k] for k in self.PARTS]) * n

    def log_window(self, val: dict | None = None) -> None:
        if self.w[2]:
            sums = (self.parts / self.w[2]).tolist()
            self.parts.zero_()
            val = {**{f"train_{k}": v for k, v in zip(self.PARTS, sums)}, **(val or {})}
        super().log_window(val)

    def results_head(self, data: Data, which: str, epoch) -> dict:
        return {"task": data.task, "data": data.name, "split": data.val_name, "classes": data.classes,
                "weights": which, "epoch": epoch, "n": len(data.y_val), "image_size": list(self.image_size),
                **selection_fields(data, *getattr(self, "selected", (None, None)))}
