"""python -m engine templates [--json]: the template library as a table (name, title, task, parameters)."""
from __future__ import annotations

import json

from engine.templates import list_templates


def add_parser(sub) -> None:
    p = sub.add_parser("templates", help="list the template graphs of classic networks")
    p.add_argument("--json", action="store_true", help="print engine.templates.list_templates() as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    items = list_templates()
    if args.json:
        print(json.dumps(items, indent=2, ensure_ascii=False))
        return 0
    rows = [("name", "title", "task", "parameters")]
    rows += [(t["name"], t["title"], t["task"], f"{t['params']:,}") for t in items]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for i, row in enumerate(rows):
        print("  ".join(c.rjust(w) if j == 3 else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\n{len(items)} templates in assets/templates; load one with engine.templates.load_template(name).")
    return 0
