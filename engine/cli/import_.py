"""python -m engine import torchvision:<name> [--input-shape C H W] -o G.json: a torchvision model as a graph file.
python -m engine import MODEL.pt2 -o G.json [--weights-out W.safetensors]: a .pt2 (torch.export) as a graph file.

The model is built with weights=None (nothing is downloaded), traced with torch.fx and checked against torch's own
shapes. Exit 0 when written, 1 when the model cannot be imported (every unsupported op is named), 2 for bad
arguments.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.atomic import atomic_write_with
from engine.fx.blocks import BlockImportError
from engine.fx.importer import ImportModelError, import_model
from engine.fx.pt2 import Pt2Error, import_pt2
from engine.graph import load_graph, save_graph
from engine.shapes import check


def add_parser(sub) -> None:
    p = sub.add_parser("import", help="import a torchvision model (torch.fx) or a .pt2 (torch.export) as a graph file")
    p.add_argument("source", help="torchvision:<model name>, e.g. torchvision:resnet18; or a .pt2 file")
    p.add_argument("--input-shape", type=int, nargs="+", default=[3, 224, 224], metavar="N",
                   help="input size without the batch (default: 3 224 224)")
    p.add_argument("-o", "--output", required=True, help="graph file to write (.json, replaced atomically)")
    p.add_argument("--name", help="the design's name (default: the model's)")
    p.add_argument("--weights-out", help="for a .pt2: also write its weights here (.safetensors)")
    p.add_argument("--modules", action="store_true", help="torchvision: its blocks (BasicBlock, Inception, ...) as "
                   "module instances, one definition per block class (graph format version 2)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.source.lower().endswith(".pt2"):
        return _run_pt2(args)
    if not args.source.startswith("torchvision:"):
        print(f"error: the source must be torchvision:<model name>. Received: {args.source!r}.", file=sys.stderr)
        return 2
    try:
        g = import_model(args.source, tuple(args.input_shape), name=args.name, modules=args.modules)
    except (ImportModelError, BlockImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        save_graph(g, args.output)
    except OSError as e:
        print(f"error: cannot write {args.output}: {e.strerror}", file=sys.stderr)
        return 2
    r = check(g)
    print(f"imported {args.source}: {len(g.nodes)} nodes"
          + (f" ({len(g.modules)} module definitions)" if g.modules else "") + f", {r.total_params:,} parameters, "
          f"{r.total_macs:,} MACs per sample -> {args.output}")
    return 0


def _run_pt2(args) -> int:
    try:
        g, weights = import_pt2(args.source)
    except Pt2Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.name:
        g = load_graph({**json.loads(g.to_json()), "name": args.name})
    try:
        save_graph(g, args.output)
        if args.weights_out:
            from safetensors.torch import save_file

            atomic_write_with(Path(args.weights_out), lambda tmp: save_file(weights, str(tmp)))
    except OSError as e:
        print(f"error: cannot write: {e.strerror or e}", file=sys.stderr)
        return 2
    r = check(g)
    print(f"imported {args.source}: {len(g.nodes)} nodes, {r.total_params:,} parameters -> {args.output}"
          + (f", weights -> {args.weights_out}" if args.weights_out else ""))
    return 0
