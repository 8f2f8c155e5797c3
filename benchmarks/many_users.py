"""Many users, one server: N simulated users design, train a tiny net on mnist-sample and export, all at once.

Each user is a Streamlit session of the real app (AppTest: the same script runs, session state and callbacks a
browser session gets, without the browser), all in this one process as they would be in one server, sharing one
CONVAS_HOME and its run queue; their trainings are real trainer processes admitted by the queue. A user:
  1. opens the app (a newcomer: a workspace of their own), starts a new design and makes it theirs: a hidden
     Linear layer of a width no other user has (16 + i) and the name "user i";
  2. on the Train page starts one epoch on mnist-sample (capped at --steps steps), then keeps the page open,
     refreshing it as the live view does, until the run ends;
  3. on the Export page checks what it offers and loads the trained model.
Rounds go user by user, so every page run happens while the others' trainings run (and queue).

Printed: completion (runs finished / N), cross-talk (a user who sees a design, run or export that is not theirs:
must be 0), page response (every script run: median and p95), queue waits (submitted -> training), and memory per
session (the growth of this process's resident memory per open session; trainer processes are apart). Nothing is
asserted about time; tests/designer/test_many_users.py runs N = 8 and asserts completion and no cross-talk.

    python benchmarks/many_users.py [--users 30] [--steps 30] [--max-trainings K] [--home DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class User:
    i: int
    at: object = None
    width: int = 0
    run_dir: Path | None = None
    submitted: float | None = None
    started: float | None = None  # when its trainer took a slot (seen by a page refresh)
    state: str = "new"  # new -> training -> done
    cross_talk: list[str] = field(default_factory=list)


def run_page(at, times: list[float], page: str | None = None):
    if page:
        at.switch_page(page)
    t = time.perf_counter()
    at.run()
    times.append(time.perf_counter() - t)
    if at.exception:
        raise RuntimeError(f"the page raised: {at.exception[0].message}")
    return at


def design(u: User, times: list[float]) -> None:
    from streamlit.testing.v1 import AppTest

    from engine.starters import new_design

    u.at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    run_page(u.at, times)
    ss = u.at.session_state
    if ss["graph"].get("name") != "MNIST CNN (TensorFlow tutorial)":  # a newcomer starts from the default
        u.cross_talk.append(f"started from {ss['graph'].get('name')!r}")
    u.width = 16 + u.i
    g = new_design("starter")
    g["name"] = f"user {u.i}"
    g["nodes"].insert(2, {"id": "hidden", "op": "Linear", "params": {"out_features": u.width},
                          "inputs": ["flat"], "ui": {"x": 0.0, "y": 150.0}})
    g["nodes"][3]["inputs"] = ["hidden"]
    ss["graph"] = g  # as the canvas's edits would leave it
    ss["graph_rev"] = ss["graph_rev"] + 1
    ss["design_unsaved"] = True
    run_page(u.at, times)  # the Design page checks it and autosaves it


def start(u: User, steps: int, times: list[float]) -> None:
    at = run_page(u.at, times, "pages/train.py")
    at.number_input(key="tf_epochs").set_value(1)
    at.number_input(key="tf_max").set_value(steps)
    at.number_input(key="tf_log").set_value(5)
    (button,) = [b for b in at.button if b.label == "Start training"]
    button.click()
    u.submitted = time.time()
    run_page(at, times)
    ws = at.session_state["workspace"]
    runs = [d for d in ws.runs.iterdir() if d.is_dir()]
    if len(runs) != 1:
        u.cross_talk.append(f"{len(runs)} runs in the workspace after one start")
    u.run_dir = runs[0] if runs else None
    u.state = "training"


def refresh(u: User, times: list[float]) -> None:
    from engine.train.rundir import RunDir

    run_page(u.at, times)  # the Train page, as its live view refreshes
    st = RunDir(u.run_dir).status()
    if u.started is None and not (st.get("state") == "queued" and st.get("waiting")):
        u.started = time.time()
    if st.get("state") not in ("queued", "running"):
        u.state = "done"


def export(u: User, times: list[float]) -> None:
    import engine
    from engine.train import runs as R
    from engine.train.rundir import RunDir

    at = run_page(u.at, times, "pages/export.py")
    (box,) = [s for s in at.selectbox if s.label == "Export"]
    others = [lb for lb in box.options if lb.startswith("Run ") and f"user {u.i} ·" not in lb]
    if others:
        u.cross_talk.append(f"export offers other runs: {others}")
    run = RunDir(u.run_dir)
    if run.status().get("state") != "finished":
        return
    g, model = R.load_trained(run)
    if g.name != f"user {u.i}" or model.hidden.weight.shape[0] != u.width:
        u.cross_talk.append(f"exported {g.name!r} with width {model.hidden.weight.shape[0]}")
    if f"nn.Linear(784, {u.width}" not in engine.to_python(g):
        u.cross_talk.append("model.py is not the user's design")
    design = engine.load_graph(at.session_state["workspace"].autosave)
    if design.name != f"user {u.i}":
        u.cross_talk.append(f"autosave holds {design.name!r}")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=30)
    ap.add_argument("--steps", type=int, default=30, help="training steps per run (one epoch, capped)")
    ap.add_argument("--max-trainings", type=int, default=None,
                    help="trainings at once (default: the server's default, one per GPU or per two cores)")
    ap.add_argument("--home", default=None, help="the CONVAS_HOME to use (default: a fresh temporary folder)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    args = ap.parse_args(argv)

    home = Path(args.home or tempfile.mkdtemp(prefix="convas_many_users_"))
    os.environ["CONVAS_HOME"] = str(home)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # many small trainers: one thread each
    if args.max_trainings:
        os.environ["CONVAS_MAX_TRAININGS"] = str(args.max_trainings)
    import logging

    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda r: "missing ScriptRunContext" not in r.getMessage())  # AppTest sessions run "bare": not a problem
    from engine.train.queue import Queue, default_limits
    from engine.train.runs import stop_run

    limits = default_limits()
    print(f"{args.users} users, {args.steps} steps each, {limits.server} training(s) at once, "
          f"CONVAS_HOME={home}", flush=True)

    times: list[float] = []
    users = [User(i) for i in range(args.users)]
    t0 = time.time()
    warm = User(-1)  # the first session imports torch, the app and every page: not a per-session cost
    design(warm, [])
    for page in ("pages/train.py", "pages/export.py", "pages/design.py"):
        run_page(warm.at, [], page)
    alone: list[float] = []  # the baseline: page runs of one user on an idle server, measured the same way
    for _ in range(3):
        design(User(-1), alone)
        run_page(warm.at, alone, "pages/train.py")
    base = rss_mb()
    try:
        for u in users:
            design(u, times)
        per_session = (rss_mb() - base) / len(users)
        for u in users:
            start(u, args.steps, times)
        deadline = time.time() + args.timeout
        while any(u.state == "training" for u in users) and time.time() < deadline:
            for u in users:
                if u.state == "training":
                    refresh(u, times)
        for u in users:
            export(u, times)
    finally:
        for e in Queue(home / "queue").snapshot()["entries"]:
            stop_run(e["run"])
    wall = time.time() - t0

    from engine.train.rundir import RunDir

    finished = sum(RunDir(u.run_dir).status().get("state") == "finished" for u in users if u.run_dir)
    cross = [(u.i, c) for u in users for c in u.cross_talk]
    waits = [u.started - u.submitted for u in users if u.started and u.submitted]
    out = {"users": args.users, "finished": finished, "cross_talk": len(cross), "page_runs": len(times),
           "alone_p50_s": pct(alone, 0.5),
           "page_p50_s": pct(times, 0.5), "page_p95_s": pct(times, 0.95), "page_max_s": max(times),
           "queue_wait_p50_s": pct(waits, 0.5), "queue_wait_max_s": max(waits) if waits else float("nan"),
           "mem_per_session_mb": per_session, "process_rss_mb": rss_mb(), "wall_s": wall,
           "trainings_at_once": limits.server}
    print(f"completion       {finished} / {args.users} runs finished")
    print(f"cross-talk       {len(cross)}" + "".join(f"\n  user {i}: {c}" for i, c in cross[:10]))
    print(f"page response    p50 {out['page_p50_s'] * 1000:.0f} ms · p95 {out['page_p95_s'] * 1000:.0f} ms · "
          f"max {out['page_max_s'] * 1000:.0f} ms over {len(times)} script runs")
    print(f"queue wait       p50 {out['queue_wait_p50_s']:.1f} s · max {out['queue_wait_max_s']:.1f} s "
          f"(submitted -> training, {limits.server} at once; within one refresh round)")
    print(f"memory           {per_session:.1f} MB per open session (this process: {out['process_rss_mb']:.0f} MB)")
    print(f"wall             {wall:.0f} s")
    print(f"baseline         one user on an idle server: page p50 {out['alone_p50_s'] * 1000:.0f} ms; under load "
          f"p50 is {out['page_p50_s'] / out['alone_p50_s']:.1f}x and p95 {out['page_p95_s'] / out['alone_p50_s']:.1f}x "
          f"that")
    return out


if __name__ == "__main__":
    main()
