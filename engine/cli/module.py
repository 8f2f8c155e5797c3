"""python -m engine module {list,make,rename,detach,inline,expand,collapse} G.json ...: the Design page's module edits
on a graph file (expand/collapse: how the canvas draws an instance; the cards below it make room, engine/reflow.py).

Each edit is engine.module_edit's function; the result is checked as a graph file and written atomically to -o
(default: back to G.json). A refused edit prints why and exits 2, leaving the file as it was.
"""
from __future__ import annotations

import json
import sys

from engine import module_edit
from engine.errors import GraphError
from engine.graph import load_graph_text, read_graph_file, save_graph
from engine.shapes import check


def add_parser(sub) -> None:
    p = sub.add_parser("module", help="list, make, rename, detach, inline, expand or collapse modules of a graph file")
    edits = p.add_subparsers(dest="edit", required=True)
    ls = edits.add_parser("list", help="each definition: its arguments, layers and instances")
    ls.add_argument("graph", help="path to a graph file (.json)")
    ls.set_defaults(func=run_list)
    specs = [("make", "these nodes (one block: a single exit, no Input) become module NAME and one instance",
              [("name", "the module's name: a Python identifier, the exported class's name"),
               ("ids", "the nodes to put in it")]),
             ("rename", "rename a module: every instance and the exported class follow",
              [("old", "the module's name now"), ("new", "its new name")]),
             ("detach", "give one instance its own copy of its module", [("instance", "the instance's node id")]),
             ("inline", "replace one instance by its layers", [("instance", "the instance's node id")]),
             ("expand", "draw one instance expanded on the canvas: the cards below it move down to make room",
              [("instance", "the instance's node id")]),
             ("collapse", "draw one instance collapsed: the cards below it move back up",
              [("instance", "the instance's node id")])]
    for name, help_text, args in specs:
        e = edits.add_parser(name, help=help_text)
        e.add_argument("graph", help="path to a graph file (.json)")
        for arg, arg_help in args:
            e.add_argument(arg, nargs="+" if arg == "ids" else None, help=arg_help)
        e.add_argument("-o", "--output", help="where to write the edited graph (default: back to the input file)")
        e.set_defaults(func=run_edit)


def _read(path: str) -> dict:
    return load_graph_text(read_graph_file(path)).to_dict()


def run_list(args) -> int:
    try:
        g = _read(args.graph)
    except GraphError as e:
        print(f"error: {e.issues[0].message}", file=sys.stderr)
        return 2
    mods = g.get("modules") or {}
    if not mods:
        print("no modules")
        return 0
    for name, d in mods.items():
        users = [n["id"] for n in g["nodes"] if n["op"] == name]
        print(f"{name}({', '.join(f'{k}={json.dumps(v)}' for k, v in d.get('args', {}).items())}): "
              f"{len(d.get('nodes', []))} layers ({', '.join(m['id'] for m in d.get('nodes', []))}); "
              f"{len(users)} instance(s): {', '.join(users) or '-'}")
    return 0


def run_edit(args) -> int:
    try:
        g = _read(args.graph)
        if args.edit == "make":
            new = module_edit.make_module(g, args.ids, args.name)
        elif args.edit == "rename":
            new = module_edit.rename_module(g, args.old, args.new)
        elif args.edit == "detach":
            new = module_edit.detach(g, args.instance)
        elif args.edit in ("expand", "collapse"):
            new = module_edit.set_expanded(g, args.instance, args.edit == "expand")
        else:
            new = module_edit.inline(g, args.instance)
        out = load_graph_text(json.dumps(new))  # the edited design is a valid graph file before it is written
    except GraphError as e:
        print(f"error: {e.issues[0].message}", file=sys.stderr)
        return 2
    except module_edit.ModuleEditError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    save_graph(out, args.output or args.graph)
    r = check(out)
    print(f"{args.edit}: wrote {args.output or args.graph} ({len(new.get('modules') or {})} module definitions, "
          f"{r.total_params:,} parameters" + ("" if r.ok else f", {len(r.errors)} error(s): run python -m engine "
                                                              "check") + ")")
    return 0
