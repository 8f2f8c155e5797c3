"""What the two box tasks (localisation, detection) share on top of Run: the loss parts' running sums logged as
train_<part> beside train_loss, the image size, validation in batches (val_loss and val_<part>, then the task's
metrics) and the results' frame (the chosen weights on the test split, the shared fields, the final status).

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
    """Run for a box task. Validation, the loss parts' bookkeeping and the results' frame are shared here; a task
    states what differs:
    - loss(out, yb): {"loss": the total, and each of PARTS} of the model's output on a batch with its targets;
    - decode(out): the predictions in one validation batch's output;
    - measure(decoded, y, keep): the val_* metrics of the decoded batches against the targets y (with keep, the
      predictions too, for the results);
    - results(ev, data): from evaluate(keep=True) on the test split, the results.json fields of the task, the
      example images written beside them, and the figures the final status names."""
    PARTS: tuple[str, ...] = ()  # loss parts, besides the total, in the order loss() returns them
    COMPUTING = "computing the results"  # the status while finish measures the test split

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

    def train_step(self, idx: torch.Tensor) -> None:
        xb, yb = self.train_batch(idx)
        out = self.forward(xb)
        parts = self.loss(out, yb)
        self.optimise(parts["loss"])
        self.count(out, parts, yb)

    def count(self, out, parts: dict[str, torch.Tensor], yb: torch.Tensor) -> None:
        """Add a training batch to the window: the loss and its parts (a task that scores more adds its own)."""
        n = len(yb)
        self.w[0] += parts["loss"].detach() * n
        self.w[2] += n
        self.parts += torch.stack([parts[k] for k in self.PARTS]) * n

    def log_window(self, val: dict | None = None) -> None:
        if self.w[2]:
            sums = (self.parts / self.w[2]).tolist()
            self.parts.zero_()
            val = {**{f"train_{k}": v for k, v in zip(self.PARTS, sums)}, **(val or {})}
        super().log_window(val)

    # ---- validation and results -------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, keep: bool = False) -> dict:
        """The loss and its parts (val_loss, val_<part>) over the validation split in batches, then the task's
        metrics."""
        was = self.model.training
        self.model.eval()
        x, y = self.data.x_val, self.data.y_val
        sums = torch.zeros(1 + len(self.PARTS), device=self.device, dtype=torch.float64)
        decoded = []
        for i in range(0, len(x), self.eval_bs):
            out = self.forward(self.batch(x[i:i + self.eval_bs]))
            yb = y[i:i + self.eval_bs]
            parts = self.loss(out, yb)
            sums += torch.stack([parts[k].detach() for k in ("loss", *self.PARTS)]).double() * len(yb)
            decoded.append(self.decode(out))
        self.model.train(was)
        metrics = self.measure(decoded, y, keep)
        losses = dict(zip(("val_loss", *(f"val_{k}" for k in self.PARTS)), (sums / len(y)).tolist()))
        return {**losses, **metrics}

    def val_fields(self, ev: dict) -> dict:
        return {k: v for k, v in ev.items() if k.startswith("val_")}  # the losses, then the metrics

    def finish(self) -> None:
        self.status("running", self.COMPUTING)
        which, meta = self.chosen_weights()
        self.selected = (self.data.val_name, meta)
        self.data = self.data.test_view()  # the test split, seen once, now, on the weights validation chose
        ev = self.evaluate(keep=True)
        d = self.data
        fields, images, figures = self.results(ev, d)
        self.dir.write_results({**self.results_head(d, which, meta.get("epoch")), **fields}, {"images": images})
        self.status("finished", say=True, message=f"finished: {d.val_name} {figures} ({which} weights, epoch "
                    f"{meta.get('epoch')}) after {self.step} steps in {self.now():.0f} s.", **self.best_status())

    def results_head(self, data: Data, which: str, epoch) -> dict:
        return {"task": data.task, "data": data.name, "split": data.val_name, "classes": data.classes,
                "weights": which, "epoch": epoch, "n": len(data.y_val), "image_size": list(self.image_size),
                **selection_fields(data, *getattr(self, "selected", (None, None)))}
