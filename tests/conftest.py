"""Shared fixtures. Real MNIST lives in ../shared/data/mnist (CONVAS_MNIST_DIR overrides)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "assets" / "templates"


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser/ drives the real app in Chromium: it carries the `browser` marker, so
    `pytest -m "not browser and not slow"` is the fast loop. (`slow` is set on each slow test where it is written.)"""
    browser_dir = Path(__file__).resolve().parent / "browser"
    for item in items:
        if browser_dir in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


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


def _trained_run_key(cfg: dict) -> str:
    """Hash of what the trained run depends on: the template, the config and the engine's source."""
    import hashlib
    import json

    h = hashlib.sha256((TEMPLATES / "mnist_cnn.json").read_bytes() + json.dumps(cfg, sort_keys=True).encode())
    for f in sorted((ROOT / "engine").rglob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def trained_mnist_run(mnist_root, tmp_path_factory) -> Path:
    """The seed MNIST CNN (assets/templates/mnist_cnn.json) trained for one epoch on the full MNIST training set
    with the default settings, to >= 98% test accuracy; yields the finished run directory.

    Costs a few minutes of CPU once per session. CONVAS_REUSE_TRAINED_RUN=1 (for local iteration, never CI)
    reuses a finished run from .pytest_cache when the template, config and engine source are unchanged.
    """
    import json
    import shutil

    from engine.train.trainer import TrainConfig, train

    cfg = TrainConfig(data="mnist", data_root=str(mnist_root), epochs=1)
    run_dir = tmp_path_factory.mktemp("runs") / "mnist_cnn"
    cache = ROOT / ".pytest_cache" / "convas_trained_mnist" / _trained_run_key(cfg.to_dict())
    reuse = os.environ.get("CONVAS_REUSE_TRAINED_RUN") == "1"
    if reuse and (cache / "status.json").is_file() and \
            json.loads((cache / "status.json").read_text())["state"] == "finished":
        shutil.copytree(cache, run_dir)
    else:
        train(TEMPLATES / "mnist_cnn.json", cfg, run_dir)
        if reuse:
            shutil.rmtree(cache, ignore_errors=True)
            shutil.copytree(run_dir, cache)
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished", f"training the seed CNN did not finish: {status['message']}"
    return run_dir
