"""python -m engine workspaces [list|queue] [--home DIR] [--json]: the workspaces of a Convas home (CONVAS_HOME,
default ./.convas) with their designs and run counts, or the server's run queue: what trains now, and what waits
(position and estimated wait).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("workspaces", help="list the workspaces of a Convas home, or its run queue")
    p.add_argument("what", nargs="?", choices=["list", "queue"], default="list",
                   help="list: the workspaces (default); queue: the runs training and waiting")
    p.add_argument("--home", default=os.environ.get("CONVAS_HOME", ".convas"),
                   help="the Convas home folder (default: $CONVAS_HOME or ./.convas)")
    p.add_argument("--json", action="store_true", help="print it as JSON")
    p.set_defaults(func=run)


def _ago(t: float | None) -> str:
    if not t:
        return "–"
    s = int(time.time() - t)
    return f"{s // 3600}h{s % 3600 // 60:02d}m ago" if s >= 3600 else f"{s // 60}m{s % 60:02d}s ago"


def _duration(s: float | None) -> str:
    return "unknown" if s is None else f"{int(s) // 60}:{int(s) % 60:02d}"


def run(args) -> int:
    from engine.train.queue import Queue
    from engine.workspace import Workspaces

    home = Path(args.home)
    if not home.is_dir():
        print(f"error: {home} is not a folder: give the Convas home with --home (or set CONVAS_HOME).")
        return 2
    wss = Workspaces(home)
    if args.what == "list":
        items = wss.summary()
        if args.json:
            print(json.dumps(items, indent=2))
            return 0
        for w in items:
            print(f"{w['id']}  {'home ' if w['home'] else '     '} created {_ago(w['created']):>12}  "
                  f"{'design' if w['design'] else 'no design':9}  {w['runs']} run(s)")
        print(f"{len(items)} workspace(s) in {wss.root}")
        return 0
    q = Queue(wss.queue_dir)
    state, places = q.snapshot(), q.places()
    rows = []
    for e in state["entries"]:
        p = places.get(e["run"])
        rows.append({"run": Path(e["run"]).name, "workspace": e["workspace"], "state": "training" if p is None
                     else "waiting", "position": p.position if p else None, "eta_s": p.eta_s if p else None,
                     "since": e["admitted"] or e["enqueued"], "pid": e["pid"]})
    rows.sort(key=lambda r: (r["position"] or 0, r["since"]))
    if args.json:
        print(json.dumps({"entries": rows, "limits": state.get("limits")}, indent=2))
        return 0
    for r in rows:
        where = f"position {r['position']}, starts in about {_duration(r['eta_s'])}" if r["position"] \
            else f"training (pid {r['pid']}) since {_ago(r['since'])}"
        print(f"{r['run']:40} {r['workspace'][:8]:8}  {where}")
    lim = state.get("limits") or {}
    print(f"{sum(r['position'] is None for r in rows)} training, {sum(bool(r['position']) for r in rows)} waiting"
          + (f"; limits: {lim.get('server')} at once, {lim.get('per_workspace')} per workspace" if lim else ""))
    return 0
