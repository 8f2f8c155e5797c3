"""The two Components v2 frontends ship as files in package mode: the canvas's built bundle and the drawing pad's
hand-written JS/CSS. Each must be declared in pyproject.toml (asset_dir), exist where the Python side names it,
and be part of the package data; and the layout sizes Python sends must be the ones the canvas's types expect."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib

from designer import canvas
from designer.inspect import draw

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TYPES_TS = ROOT / "designer" / "canvas" / "frontend" / "src" / "types.ts"


def _declared() -> dict[str, Path]:
    comps = PYPROJECT["tool"]["streamlit"]["component"]["components"]
    return {c["name"]: ROOT / c["asset_dir"] for c in comps}


@pytest.mark.parametrize("registered, files", [(canvas.NAME, canvas.bundle_files()), (draw.NAME, draw.asset_files())])
def test_each_component_is_declared_with_its_files_in_its_asset_dir(registered, files):
    project, name = registered.split(".")
    assert project == PYPROJECT["project"]["name"]
    asset_dir = _declared()[name]
    assert asset_dir.is_dir()
    for f in files:
        assert f.parent.resolve() == asset_dir.resolve(), f"{f} is not in {name}'s asset_dir {asset_dir}"
        assert f.is_file() and f.stat().st_size > 0, f"{f} is missing (canvas: npm run build)"


def test_the_asset_files_are_package_data():
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    for files in (canvas.bundle_files(), draw.asset_files()):
        for f in files:
            rel = f.relative_to(ROOT)
            package = ".".join(rel.parts[:2])  # designer.canvas, designer.inspect
            pattern = f"{rel.parts[2]}/*{f.suffix}"
            assert pattern in data.get(package, []), f"{rel} is not shipped: add {pattern!r} to {package!r}"


def test_the_pad_is_a_module_with_a_default_export_reading_its_sizes_from_data():
    js = draw.asset_files()[0].read_text()
    assert "export default function" in js
    assert "data.side" in js and "data.view" in js  # the sizes come from Python (SIDE, VIEW), not copied
    assert str(draw.SIDE) not in re.findall(r"\b\d+\b", js)


def test_the_layout_sizes_python_sends_match_the_canvas_type():
    from designer.design.convert import layout_sizes

    body = re.search(r"export interface LayoutSizes \{(.*?)\n\}", TYPES_TS.read_text(), re.S)
    assert body, "LayoutSizes is missing from types.ts"
    ts_keys = set(re.findall(r"^\s*(\w+): number;", body.group(1), re.M))
    sizes = layout_sizes()
    assert set(sizes) == ts_keys
    assert all(isinstance(v, (int, float)) and v > 0 for v in sizes.values())
