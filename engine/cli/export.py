"""python -m engine export G.json --format py|torchscript|pt2|onnx|safetensors -o OUT [--weights W.safetensors].

Exit 0 when written, 1 when the design has errors (each printed), 2 for bad arguments or unreadable files.
"""
from __future__ import annotations

import sys
from pathlib import Path

from engine.errors import GraphError
from engine.export.formats import FORMATS, SUFFIXES, export, format_for, read_weights


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a graph file as PyTorch source, TorchScript, torch.export (.pt2), "
                                     "ONNX or safetensors")
    p.add_argument("graph", help="path to a graph file (.json)")
    p.add_argument("--format", "-f", choices=FORMATS,
                   help=f"output format; default: from the output's suffix ({', '.join(SUFFIXES)})")
    p.add_argument("-o", "--output", required=True, help="file to write (replaced atomically)")
    p.add_argument("--weights", help="trained weights to export with the model (.safetensors, or a torch file "
                   "loaded with weights_only=True); default: a fresh random initialisation")
    p.set_defaults(func=run)


def run(args) -> int:
    if not Path(args.graph).is_file():
        print(f"error: cannot read {args.graph}: no such file.", file=sys.stderr)
        return 2
    fmt = args.format or format_for(args.output)
    if fmt is None:
        print(f"error: cannot tell the format from {args.output!r}; pass --format ({'|'.join(FORMATS)}).",
              file=sys.stderr)
        return 2
    state_dict = None
    if args.weights:
        try:
            state_dict = read_weights(args.weights)
        except (OSError, ValueError, RuntimeError) as e:
            print(f"error: cannot read weights {args.weights}: {e}", file=sys.stderr)
            return 2
    try:
        out = export(args.graph, fmt, args.output, state_dict=state_dict)
    except GraphError as e:
        print(f"error: {args.graph} cannot be exported; {len(e.issues)} problem(s):", file=sys.stderr)
        for i in e.issues:
            print(f"  - {i}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({fmt}, {out.stat().st_size:,} bytes)")
    return 0
