"""python -m engine check G.json [--json]: a table of every node, and every error; exit 1 on errors."""
from __future__ import annotations

import json
import sys

from engine.catalog.arith import fmt_shape
from engine.errors import GraphError
from engine.graph import read_graph_file
from engine.shapes import check
from engine.totals import known_totals
from engine.train.defaults import default_batch_size
from engine.verdict import verdict


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="check a graph file: shapes, parameters, MACs and every error")
    p.add_argument("graph", help="path to a graph file (.json)")
    p.add_argument("--json", action="store_true", help="print engine.check(g).to_dict() as JSON")
    p.add_argument("--batch-size", type=int, default=None,
                   help="batch size for the memory estimate (default: the one training uses on this machine)")
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
    batch = args.batch_size or default_batch_size()
    t = known_totals(r)  # with a node in error: what is known so far, marked partial
    mem = t.memory(batch)["total"]
    print(f"\ntotal{' (partial: ≥)' if t.partial else ''}: {t.params:,} parameters, {t.macs:,} MACs per sample, "
          f"~{mem / 2**20:.1f} MiB to train at batch {batch}")
    if t.partial:
        print(f"  {len(t.unknown)} node(s) without a shape add no MACs or memory ({', '.join(t.unknown[:8])}"
              f"{', …' if len(t.unknown) > 8 else ''}), {len(t.params_unknown)} of them no parameters")
    if r.errors:
        print(f"\n{verdict(r)['text']}:")
        for e in r.errors:
            print(f"  - {e}")
        return 1
    return 0
