"""python -m engine diff A.json B.json [--json]: what changed from design A to design B; exit 1 when they differ."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.diff import diff
from engine.errors import GraphError


def add_parser(sub) -> None:
    p = sub.add_parser("diff", help="diff two graph files: added, removed, renamed, changed, rewired; Δparams, ΔMACs")
    p.add_argument("a", help="the first graph file (.json)")
    p.add_argument("b", help="the second graph file (.json)")
    p.add_argument("--json", action="store_true", help="print engine.diff(a, b).to_dict() as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        d = diff(Path(args.a), Path(args.b))  # bounded reads: a device, a pipe or an over-large file is refused
    except GraphError as e:
        print(f"error: {e.issues[0].message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(d.to_dict(), indent=2, ensure_ascii=False))
        return 0 if d.same else 1
    print(f"{d.a_name} → {d.b_name}")
    for side, ok in (("A", d.a_ok), ("B", d.b_ok)):
        if not ok:
            print(f"note: design {side} has errors (python -m engine check); shapes and counts cover what checks")
    for c in d.changes:
        print(f"  {c.text}")
    for r in d.reshaped:
        print(f"  ~ {r.text}")
    print(f"\n{d.summary()}\nparameters {d.params[0]:,} → {d.params[1]:,} · MACs per sample {d.macs[0]:,} → "
          f"{d.macs[1]:,}")
    return 0 if d.same else 1
