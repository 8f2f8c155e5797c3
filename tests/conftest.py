"""Shared fixtures. Real MNIST lives in ../shared/data/mnist (CONVAS_MNIST_DIR overrides)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "assets" / "templates"


def mnist_dir() -> Path:
    return Path(os.environ.get("CONVAS_MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The four standard MNIST idx files. Tests that need them fail (never skip) when they are missing."""
    d = mnist_dir()
    missing = [f for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz") if not (d / f).exists()]
    assert not missing, f"MNIST files missing in {d}: {missing}. Set CONVAS_MNIST_DIR to their folder."
    return d


@pytest.fixture
def template_path():
    def get(name: str) -> Path:
        return TEMPLATES / f"{name}.json"
    return get
