"""metrics.jsonl and TensorBoard: one line per logged step and per epoch, flushed as it goes.

The app tails metrics.jsonl while the run is alive, so every line is flushed at once. On resume, lines after
the checkpoint's step are dropped (they describe steps that will be trained again) and TensorBoard purges them.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write_bytes

ROW_KEYS = ("kind", "step", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s",
            "elapsed", "device_mem")
TB_TAGS = {"train_loss": "loss/train", "val_loss": "loss/val", "train_acc": "accuracy/train",
           "val_acc": "accuracy/val", "val_miou": "mean_iou/val", "lr": "lr", "images_per_s": "images_per_s",
           "train_ppl": "perplexity/train", "val_ppl": "perplexity/val", "test_ppl": "perplexity/test",
           "words_per_s": "words_per_s"}


def parse_lines(text: str) -> list[dict]:
    """Complete JSON lines of a metrics file; a partial or corrupt line (a killed writer) is skipped."""
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


class MetricsLog:
    """Appends rows to `path` (a run's metrics.jsonl) and mirrors them as TensorBoard scalars under `tb_dir`."""

    def __init__(self, path: Path, tb_dir: Path, resume_step: int | None):
        self.path = Path(path)
        if resume_step is None:
            shutil.rmtree(tb_dir, ignore_errors=True)  # a fresh start: nothing from an earlier attempt
            kept = []
        else:
            old = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
            kept = [r for r in parse_lines(old) if r.get("step", 0) <= resume_step]
        atomic_write_bytes(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode(), durable=False)
        self.f = open(self.path, "a", encoding="utf-8")
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            purge = resume_step + 1 if resume_step else None
            self.tb = SummaryWriter(log_dir=str(tb_dir), purge_step=purge, flush_secs=10)
        except Exception as e:  # TensorBoard is optional for training itself
            print(f"warning: TensorBoard logging is off ({type(e).__name__}: {e})", file=sys.stderr)

    def write(self, row: dict[str, Any]) -> None:
        full = {k: row.get(k) for k in ROW_KEYS}
        full.update(row)
        self.f.write(json.dumps(full) + "\n")
        self.f.flush()
        if self.tb is not None:
            for key, tag in TB_TAGS.items():
                if full.get(key) is not None:
                    self.tb.add_scalar(tag + ("/epoch" if full["kind"] == "epoch" else ""), full[key], full["step"])

    def close(self) -> None:
        self.f.close()
        if self.tb is not None:
            self.tb.close()
