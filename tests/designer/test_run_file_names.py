"""The designer and the pages never spell a run's file names: engine.train.rundir.RunDir owns them.

The rule, on the parsed source of every .py file under designer/ and pages/:
- every string literal counts, f-string pieces included, except docstrings (the first statement of a module, class
  or function), which may name files in prose; comments are not in the parse tree, so they may too;
- a name with a dot (status.json, metrics.jsonl, ...) fails wherever it stands as a whole word in a literal, so
  "see log.txt" fails as much as "checkpoints/last.json" (messages take the name from RunDir.LOG and friends);
- a folder name without a dot (checkpoints, tb) fails when the literal is exactly that name or uses it as a path
  part next to a '/', so ordinary words in a message ("checkpoints are kept") stay free.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from engine.train.rundir import RunDir

ROOT = Path(__file__).resolve().parents[2]


def sources() -> list[Path]:
    return sorted(p for top in ("designer", "pages") for p in (ROOT / top).rglob("*.py") if "node_modules" not in p.parts)


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are docstrings."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value,
                                                                                                     str):
                out.add(id(first.value))
    return out


def pattern(name: str) -> re.Pattern:
    word = re.escape(name)
    if "." in name:  # a file: anywhere as a whole word (not part of train_config.json or results.json.bak)
        return re.compile(rf"(?<![\w.-]){word}(?![\w.-])")
    return re.compile(rf"^{word}$|(?<![\w.-]){word}/|/{word}(?![\w.-])")  # a folder: alone or as a path part


PATTERNS = {name: pattern(name) for name in RunDir.NAMES}


def spelled(text: str) -> list[str]:
    return [name for name, pat in PATTERNS.items() if pat.search(text)]


def offences(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = docstrings(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            out += [f"{path.relative_to(root)}:{node.lineno}: {name!r} in {node.value!r}" for name in
                    spelled(node.value)]
    return out


def test_the_rule_catches_what_it_should_and_only_that(tmp_path):
    assert set(RunDir.NAMES) >= {RunDir.STATUS, RunDir.METRICS, RunDir.CHECKPOINTS, RunDir.BEST, RunDir.LAST}
    assert spelled("metrics.jsonl") == ["metrics.jsonl"] and spelled("see log.txt in its folder") == ["log.txt"]
    assert "checkpoints" in spelled("checkpoints") and "checkpoints" in spelled("checkpoints/last.json")
    assert spelled("train_config.json") == [] and spelled("the checkpoints are kept") == []
    assert spelled("results.npz.tmp") == [] and spelled("stb") == []
    f = tmp_path / "mod.py"
    f.write_text('"""Reads status.json."""\n# the metrics.jsonl tail\n\n\ndef f(d):\n    """From graph.json."""\n'
                 '    return d / "status.json", f"{d}/checkpoints/x"\n')
    assert offences(f, tmp_path) == ["mod.py:7: 'status.json' in 'status.json'",
                                     "mod.py:7: 'checkpoints' in '/checkpoints/x'"]


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_run_file_name_is_spelled_in_the_designer_or_the_pages(path):
    found = offences(path)
    assert not found, "run file names belong to engine.train.rundir.RunDir; use its paths and methods:\n" + \
        "\n".join(found)
