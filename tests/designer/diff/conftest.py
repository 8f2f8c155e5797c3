"""Streamlit finds the app's components (pyproject.toml [tool.streamlit.component]) by scanning the installed
distributions. An editable install made by setuptools' import-hook finder (the default since setuptools 64) leaves
nothing in the distribution that leads to pyproject.toml, so the scan misses "convas" and mounting the canvas fails
with "must be declared in pyproject.toml". These tests then point the scan at this checkout's pyproject.toml for
that one distribution; an install the scan does find is left alone."""
from __future__ import annotations

import pytest
from streamlit.components.v2 import manifest_scanner

from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def convas_manifest(monkeypatch):
    find = manifest_scanner._find_package_pyproject_toml

    def find_or_ours(dist):
        found = find(dist)
        if found is None and manifest_scanner._normalize_package_name(dist.name) == "convas":
            return ROOT / "pyproject.toml"
        return found
    monkeypatch.setattr(manifest_scanner, "_find_package_pyproject_toml", find_or_ours)
