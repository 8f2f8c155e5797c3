"""The engine's command line: python -m engine {check,diff,docs,export,faithfulness,import,module,recommend,templates,train,workspaces} ...

Each subcommand lives in its own module under engine/cli/ exposing `add_parser(subparsers)`; the parser it adds
sets `func`, which returns the exit code.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ["check", "diff", "docs", "export", "faithfulness", "import_", "module", "recommend", "templates", "train", "workspaces"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Convas engine command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"engine.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"engine.cli.{name}":
                raise
            continue
        mod.add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
