"""The layering the tree promises: no import cycles in engine/ or designer/ (imports inside functions and under
TYPE_CHECKING count too), and the engine never imports the designer, the pages or streamlit."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from engine.wiring import cycles as wiring_cycles

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "designer")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(top: str) -> list[Path]:
    return [p for p in (ROOT / top).rglob("*.py") if "node_modules" not in p.parts]


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for top in PACKAGES for p in source_files(top)}


def imported(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module `path` imports (anywhere in the file), as full dotted names. `from pkg import name` is the
    submodule pkg.name when that is a module, else pkg itself."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if sub in modules else base)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {m: {t for t in imported(p, modules) if t in modules and t != m} for m, p in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: engine.wiring's strongly-connected-component finder (the one the graph check uses for
    layer loops), on modules instead of nodes; each cycle sorted."""
    return sorted(sorted(c) for c in wiring_cycles({m: sorted(t) for m, t in graph.items()}))


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_a_function_level_import_counts(tmp_path, monkeypatch):
    # the data cycle this tree once had was held together by imports inside functions: they must be seen
    pkg = tmp_path / "engine"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from engine.b import g\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from engine import a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    modules = {module_name(q): q for q in source_files("engine")}
    graph = {m: {t for t in imported(p, modules) if t in modules and t != m} for m, p in modules.items()}
    assert cycles(graph) == [["engine.a", "engine.b"]]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles (each list imports itself round a loop): " + "; ".join(map(str, found))


@pytest.mark.parametrize("path", source_files("engine"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_engine_imports_neither_the_designer_nor_streamlit(path):
    modules = project_modules()
    bad = {m for m in imported(path, modules) if m.split(".")[0] in ("designer", "pages", "streamlit", "app")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: engine/ must stay pure Python + torch"
