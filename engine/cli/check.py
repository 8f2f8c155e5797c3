"""python -m engine check G.json [--json]: a table of every node, and every error; exit 1 on errors."""
from __future__ import annotations

import json
import sys

from engine.catalog.arith import fmt_shape
from engine.errors import GraphError
from engine.graph import read_graph_file
from engine.shapes import check


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="check a graph file: shapes, parameters, MACs and every error")
    p.add_argument("graph", help="path to a graph file (.json)")
    p.add_argument("--json", action="store_true", help="print engine.check(g).to_dict() as JSON")
    p.add_argument("--batch-size", type=int, default=64, help="batch size for the memory estimate")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        text = read_graph_file(args.graph)  # bounded: a device, a pipe or an over-large file is refused
    except GraphError as e:
        print(f"error: {e.issues[0].message}", file=sys.stderr)
        return 2
    r = check(text)
    if args.json:
        print(json.dumps(r.to_dict(), indent=2, ensure_ascii=False))
        return 0 if r.ok else 1
    rows = [("node", "op", "output", "params", "MACs")]
    for n in r.nodes.values():
        shape = fmt_shape(n.shape) if n.shape else ("(blocked)" if n.blocked else "ERROR")
        rows.append((n.id, n.op, shape, f"{n.params:,}", f"{n.macs:,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    mem = r.memory_estimate(args.batch_size)["total"]
    print(f"\ntotal: {r.total_params:,} parameters, {r.total_macs:,} MACs per sample, "
          f"~{mem / 2**20:.1f} MiB to train at batch {args.batch_size}")
    if r.errors:
        print(f"\n{len(r.errors)} error(s):")
        for e in r.errors:
            print(f"  - {e}")
        return 1
    return 0
