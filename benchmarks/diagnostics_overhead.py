"""The cost of live per-layer diagnostics (engine.train.diagnostics): the same run with diagnostics at the default
interval (TrainConfig.diag_every) and with them off, through the app's own trainer, alternated `--repeats` times so
both see the same machine load. The step time is the training time per step of the epoch rows (evaluation excluded;
the recorded steps included). Prints both, and the extra step time of diagnostics in %. Target (issue 16): <= 5%.
On a busy machine whole runs drift with the load, so it first measures in one process: plain and recorded steps
interleaved (one recorded every 10), and the cost at the default interval from their medians. Asserts nothing.

    python benchmarks/diagnostics_overhead.py [--template mnist_cnn] [--data mnist-sample] [--steps 400]
        [--batch-size 128] [--repeats 3] [--every N (default: TrainConfig's)] [--device auto] [--in-process-only]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
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


def in_process(template: str, steps: int, batch: int, every: int, sample_every: int) -> None:
    """The same loop, one process: the time of plain steps and of recorded steps, interleaved (a recorded step every
    `sample_every` steps), so a busy machine slows both alike; the extra cost at `every` is (t_rec - t_plain) /
    (every * t_plain)."""
    import torch
    import torch.nn.functional as F

    from engine.codegen import build_module
    from engine.data import load_data, to_float
    from engine.graph import load_graph
    from engine.train.diagnostics import Diagnostics

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    g = load_graph(ROOT / "assets" / "templates" / f"{template}.json")
    data = load_data("mnist-sample").to(dev)
    torch.manual_seed(0)
    model = build_module(g).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    diag = Diagnostics(model, g, every=sample_every)
    plain, rec = [], []
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    n = len(data.x_train)
    for k in range(1, steps + 1):
        idx = torch.randint(0, n, (batch,), device=dev)
        xb, yb = to_float(data.x_train[idx]), data.y_train[idx].long()
        record = k > 5 and diag.due(k)  # the first steps warm up
        sync()
        t = time.perf_counter()
        if record:
            diag.arm()
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if record:
            diag.collect(k)
        sync()
        if k > 5:
            (rec if record else plain).append(time.perf_counter() - t)
    tp, tr = statistics.median(plain), statistics.median(rec)
    extra = (tr - tp) / (every * tp) * 100
    print(f"in one process on {dev.type}: {template}, batch {batch}, {len(plain)} plain and {len(rec)} recorded "
          f"steps, interleaved (median)")
    print(f"plain step {tp * 1e3:.2f} ms, recorded step {tr * 1e3:.2f} ms ({tr / tp:.2f}×): at every {every} "
          f"steps {extra:+.2f}% step time (target <= +5%): {'met' if extra <= 5 else 'NOT met'}")


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
    ap.add_argument("--in-process-only", action="store_true", help="only the interleaved in-process measurement")
    a = ap.parse_args()
    in_process(a.template, max(a.steps, 200), a.batch_size, a.every, sample_every=10)
    if a.in_process_only:
        return
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
