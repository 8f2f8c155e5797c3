"""The cost of live per-layer diagnostics (engine.train.diagnostics): the same run with diagnostics at the default
interval (TrainConfig.diag_every) and with them off, through the app's own trainer, alternated `--repeats` times so
both see the same machine load. The step time is the training time per step of the epoch rows (evaluation excluded;
the recorded steps included). Prints both, and the extra step time of diagnostics in %. Target (issue 16): <= 5%.
Asserts nothing.

    python benchmarks/diagnostics_overhead.py [--template mnist_cnn] [--data mnist-sample] [--steps 400]
        [--batch-size 128] [--repeats 3] [--every N (default: TrainConfig's)] [--device auto]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.train.config import TrainConfig  # noqa: E402
from engine.train.rundir import RunDir  # noqa: E402
from engine.train.trainer import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def step_time(g: Path, cfg: dict, where: Path) -> tuple[float, int]:
    """(seconds of training per step, diagnostics rows written) of one run."""
    out = train(g, cfg, where)
    st = json.loads((out / "status.json").read_text())
    if st["state"] != "finished":
        raise SystemExit(f"the run failed: {st['message']}")
    rd = RunDir(out)
    epochs = [r for r in rd.metrics()[0] if r["kind"] == "epoch"]
    seconds = sum(r["images_per_s"] and (r["step"] - p) * cfg["batch_size"] / r["images_per_s"]
                  for r, p in zip(epochs, [0] + [e["step"] for e in epochs]))
    return seconds / epochs[-1]["step"], len(rd.diagnostics()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", default="mnist_cnn")
    ap.add_argument("--data", default="mnist-sample")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--every", type=int, default=TrainConfig().diag_every)
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    g = ROOT / "assets" / "templates" / f"{a.template}.json"
    base = dict(data=a.data, data_root=a.data_root, epochs=1000, max_steps=a.steps, batch_size=a.batch_size,
                device=a.device, log_every=50, augment="none")
    off, on, rows = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.repeats):  # alternate, so a change in the machine's load hits both alike
            off.append(step_time(g, {**base, "diag_every": 0}, Path(tmp) / f"off{i}")[0])
            t, rows = step_time(g, {**base, "diag_every": a.every}, Path(tmp) / f"on{i}")
            on.append(t)
    t_off, t_on = statistics.median(off), statistics.median(on)
    print(f"{a.template} on {a.data}, {a.steps} steps of batch {a.batch_size}, {a.repeats} runs each (median)")
    print(f"{'diagnostics':<28}{'ms/step':>10}")
    print(f"{'off':<28}{t_off * 1e3:>10.2f}")
    print(f"{f'every {a.every} steps ({rows} rows)':<28}{t_on * 1e3:>10.2f}")
    extra = (t_on / t_off - 1) * 100
    print(f"ratio on/off {t_on / t_off:.4f}: {extra:+.2f}% step time (target <= +5%): "
          f"{'met' if extra <= 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
