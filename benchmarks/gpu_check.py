"""`make gpu-check`: every GPU figure of Convas in one run and one table (issue 12), in under 8 minutes on one H200.

    python benchmarks/gpu_check.py [--data-root DIR] [--budget SECONDS] [--out table.md]

Runs, each as its own process with its own time limit inside --budget seconds:
  1. benchmarks/train_mnist.py on full MNIST: the engine at the app's defaults against the DataLoader loop and the
     hand-written resident loop, and the engine's fast mode (images/s, seconds to 99% test accuracy);
  2. benchmarks/vis_ascent.py --resnet: 512 gradient-ascent steps on a 224×224 ResNet-18 against a bare loop, and
     the 256-step MNIST CNN ascent;
  3. `pytest -m cuda` (tests/engine/train/test_cuda.py): autocast, channels_last, pinned transfers, a real OOM,
     device memory in the metrics, exact resume, fast mode, two GPUs;
  4. the other task benchmarks that exist in benchmarks/ (train_ptb.py, train_detect.py, train_rbm.py), each with
     their own defaults (plus --quick when they take it, and --small on a CPU) and at most 75 s (a timeout there is
     reported, not a failure): with --json when they take it (their figures join the table), else their lines
     that state a ratio.
Then prints one table: every figure, its baseline (measured in the same run) and the ratio, with the torch, CUDA
and cuDNN versions and the GPU. Nothing is downloaded: MNIST is read from --data-root, else $CONVAS_MNIST_DIR,
else shared/data/mnist inside the tree, else ../shared/data/mnist beside it.

On a machine without CUDA it runs the CPU parts small (a 640-image MNIST subset, a 4-step ResNet ascent, a
16-step MNIST CNN ascent, within 900 s) so the script itself is checked, and reports every CUDA part as skipped
with the reason. Exit status 1 when a part failed or ran out of time, 0 otherwise (skips included).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
               "t10k-labels-idx1-ubyte.gz")
OTHER_BENCHMARKS = ("train_ptb.py", "train_detect.py", "train_rbm.py")  # written with their tasks; optional here
RATIO_LINE = re.compile(r"(\d+(?:\.\d+)?)\s*[x×]\b")


NEEDED = ("torch", "torchvision", "numpy", "safetensors", "pydantic", "captum", "pytest")  # what the parts import


def missing_modules() -> list[str]:
    """The packages the parts import that this Python lacks (a GPU image may have torch but not pydantic/captum)."""
    import importlib.util

    return [m for m in NEEDED if importlib.util.find_spec(m) is None]


def find_mnist(given: str | None) -> Path | None:
    candidates = [given, os.environ.get("CONVAS_MNIST_DIR"), ROOT / "shared" / "data" / "mnist",
                  ROOT.parent / "shared" / "data" / "mnist"]
    for c in candidates:
        if c and all((Path(c) / f).is_file() for f in MNIST_FILES):
            return Path(c).resolve()
    return None


class Part:
    """One process of the check: what it printed, its exit status, how long it took, its figures."""

    def __init__(self, name: str):
        self.name, self.rc, self.seconds, self.out, self.figures, self.note = name, None, 0.0, "", [], ""

        self.optional = False

    @property
    def failed(self) -> bool:
        return self.rc not in (0, None)


def run_part(name: str, cmd: list[str], limit: float, env: dict, json_path: Path | None = None) -> Part:
    part = Part(name)
    print(f"\n=== {name} (limit {limit:.0f} s)\n$ {' '.join(cmd)}", flush=True)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group: a timeout ends its workers too
    try:
        part.out, _ = proc.communicate(timeout=limit)
        part.rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        part.out, _ = proc.communicate()
        part.rc, part.note = 124, f"ran out of its {limit:.0f} s"
    part.seconds = time.perf_counter() - t
    print(part.out.rstrip()[-6000:], flush=True)
    if json_path is not None and json_path.is_file():
        part.figures = json.loads(json_path.read_text()).get("figures", [])
    return part


def fmt(v, unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        s = f"{v:,.0f}" if abs(v) >= 1000 else (f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}")
    else:
        s = str(v)
    return f"{s} {unit}".strip()


def versions() -> list[str]:
    import torch

    lines = [f"torch {torch.__version__}; CUDA {torch.version.cuda or 'none'}; cuDNN "
             f"{torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else 'none'}; "
             f"Python {sys.version.split()[0]}"]
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        lines.append(f"GPU: {torch.cuda.device_count()} × {p.name}, {p.total_memory / 2**30:.0f} GiB, "
                     f"compute capability {p.major}.{p.minor}")
    else:
        lines.append(f"GPU: none (torch.cuda.is_available() is False); CPU with {os.cpu_count()} cores")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", help="folder with the four MNIST .gz files")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds for the whole check (default 470 on a GPU, 900 on a shared CPU)")
    ap.add_argument("--out", help="also write the table (markdown) to this file")
    args = ap.parse_args()
    missing = missing_modules()
    if missing:  # nothing can be installed on an offline machine: say what to bring
        print(f"gpu-check: this Python lacks {', '.join(missing)}. On an offline machine, bring them as wheels (pip "
              f"download --only-binary=:all: for its Python and platform, with their dependencies: pydantic needs "
              f"pydantic-core, annotated-types, typing-inspection) and put them on PYTHONPATH.", file=sys.stderr)
        return 2
    import torch

    gpu = torch.cuda.is_available()
    args.budget = args.budget or (470.0 if gpu else 900.0)
    start = time.perf_counter()
    left = lambda: args.budget - (time.perf_counter() - start)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "")
                                                                       .split(os.pathsep) if p]),
           "PYTHONUNBUFFERED": "1"}
    py = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix="convas-gpu-check-"))
    parts: list[Part] = []
    skipped: list[tuple[str, str]] = []

    def part(name: str, cmd: list[str], limit: float, json_name: str | None = None) -> Part | None:
        limit = min(limit, left() - 5)
        if limit < 15:
            skipped.append((name, f"no time left in the {args.budget:.0f} s budget"))
            return None
        jp = tmp / json_name if json_name else None
        p = run_part(name, cmd + (["--json", str(jp)] if jp else []), limit, env, jp)
        parts.append(p)
        return p

    # 1. MNIST: engine vs DataLoader vs resident loop (+ fast mode on a GPU)
    mnist = find_mnist(args.data_root)
    if mnist is None:
        skipped.append(("MNIST training benchmark", "the MNIST files are not in --data-root, $CONVAS_MNIST_DIR, "
                                                    f"{ROOT / 'shared/data/mnist'} or {ROOT.parent / 'shared/data/mnist'}"
                                                    ": copy ../shared/data/mnist into the tree's shared/data/mnist"))
    else:
        env["CONVAS_MNIST_DIR"] = str(mnist)  # the tests' MNIST fixture reads it
        cmd = [py, "benchmarks/train_mnist.py", "--data-root", str(mnist)]
        part("MNIST training benchmark", cmd + ([] if gpu else ["--repeat", "1", "--small-n", "640"]), 240 if gpu else 300,
             "mnist.json")
        if not gpu:
            skipped.append(("MNIST full-set figures and fast mode", "no CUDA GPU: a 640-image subset on the CPU "
                                                                   "instead (its seconds to 99% are not reached)"))

    # 2. gradient ascent: ResNet-18 at 224 px, 512 steps (4 on a CPU: the path, not the speed), and the MNIST CNN
    resnet = ["--resnet", "--steps", "512", "--repeats", "2"] if gpu else ["--resnet", "--steps", "4", "--repeats", "1"]
    part("ResNet-18 ascent benchmark", [py, "benchmarks/vis_ascent.py", *resnet], 120 if gpu else 150, "resnet.json")
    if not gpu:
        skipped.append(("ResNet-18 ascent at 512 steps", "no CUDA GPU: 4 steps on the CPU instead"))
        skipped.append(("MNIST CNN ascent at 256 steps", "no CUDA GPU: 16 steps on the CPU instead"))
    part("MNIST CNN ascent benchmark", [py, "benchmarks/vis_ascent.py",
                                        *(["--repeats", "3"] if gpu else ["--steps", "16", "--repeats", "1"])],
         90 if gpu else 150,
         "ascent.json")

    # 3. the CUDA tests (before the other benchmarks: they must not run out of time)
    tests = part("pytest -m cuda", [py, "-m", "pytest", "tests/engine/train/test_cuda.py", "-m", "cuda", "-q", "-rs",
                                    "-p", "no:cacheprovider"], 300)

    # 4. the other tasks' benchmarks, where they exist, in the time left
    for script in OTHER_BENCHMARKS:
        path = ROOT / "benchmarks" / script
        if not path.is_file():
            skipped.append((script, "not in this tree (written with its task)"))
            continue
        helptext = subprocess.run([py, str(path), "--help"], cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=60).stdout
        extra = (["--quick"] if "--quick" in helptext else []) + (["--small"] if not gpu and "--small" in helptext
                                                                 else [])
        p = part(script, [py, str(path), *extra], 75, f"{path.stem}.json" if "--json" in helptext else None)
        if p is not None and p.rc == 124:
            p.optional = True  # its own defaults may be longer than this check allows: reported, not a failure
        if p is not None and not p.figures:  # no --json: the lines that state a ratio
            p.figures = [{"figure": line.strip(), "value": None, "unit": "", "baseline": "(its own line)",
                          "baseline_value": None, "ratio": float(m.group(1)), "target": ""}
                         for line in p.out.splitlines() if (m := RATIO_LINE.search(line))]

    # the table
    lines = ["# make gpu-check", "", *[f"- {v}" for v in versions()], "",
             "| part | figure | value | baseline (same run) | baseline value | ratio | target |",
             "|---|---|---|---|---|---|---|"]
    for p in parts:
        if p.name == "pytest -m cuda":
            continue
        if p.failed:
            lines.append(f"| {p.name} | FAILED (exit {p.rc}) {p.note} | | | | | |")
        for f in p.figures:
            ratio = f"{f['ratio']:.2f}×" if f.get("ratio") is not None else "–"
            lines.append(f"| {p.name} | {f['figure']} | {fmt(f.get('value'), f.get('unit', ''))} | "
                         f"{f.get('baseline') or '–'} | {fmt(f.get('baseline_value'), f.get('unit', ''))} | {ratio} | "
                         f"{f.get('target', '')} |")
    if tests is not None:
        summary = [ln for ln in tests.out.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", ln)]
        lines += ["", f"pytest -m cuda: {summary[-1].strip('= ') if summary else 'no summary'} "
                      f"({tests.seconds:.0f} s{', ' + tests.note if tests.note else ''})"]
        reasons = sorted({ln.split(": ", 1)[-1] for ln in tests.out.splitlines() if ln.startswith("SKIPPED")})
        lines += [f"- skipped: {r}" for r in reasons]
    if skipped:
        lines += ["", "Not run:"] + [f"- {name}: {why}" for name, why in skipped]
    total = time.perf_counter() - start
    lines += ["", f"{len(parts)} parts in {total:.0f} s (budget {args.budget:.0f} s)."]
    table = "\n".join(lines)
    print("\n" + table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    return 1 if any(p.failed and not p.optional for p in parts) else 0


if __name__ == "__main__":
    sys.exit(main())
