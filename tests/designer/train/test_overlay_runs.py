"""The Design page's health overlay (designer.train.layers.design_run / overlay) picks the right run as runs come
and go, while it no longer lists the runs folder on every edit: a new run of the design shows at once, a deleted
one vanishes, a newer run of another design (of the same name) is not picked. Headless, with AppTest; the run ids
come from engine.train.runs (prepare_run, list_runs)."""
from __future__ import annotations

import json
import os
import shutil
import time

from engine.train import runs as R
from engine.train.run_index import index_for
from tests.conftest import TEMPLATES
from tests.designer.train.test_health_run import app, run_with_diagnostics  # noqa: F401 (app: a fixture)


def settle(root) -> None:
    past = time.time() - 60  # the folder's last change a minute back: the index trusts its listing
    os.utime(root, (past, past))


def found(at) -> str | None:
    at.run()
    assert not at.exception, at.exception
    return at.session_state["found"]


def test_overlay_follows_new_and_deleted_runs_and_ignores_another_designs(app):  # noqa: F811
    root = app.session_state["workspace"].runs
    lenet = json.loads((TEMPLATES / "lenet5.json").read_text())
    other = {**json.loads((TEMPLATES / "mnist_cnn.json").read_text()), "name": lenet["name"]}
    first = run_with_diagnostics(lenet, root, "first")
    settle(root)
    app.session_state["graph"] = lenet
    assert found(app) == first
    listings = index_for(root).listings
    for _ in range(3):  # edits with no run made or deleted: the runs folder is not listed again
        assert found(app) == first
    assert index_for(root).listings == listings

    theirs = run_with_diagnostics(other, root, "theirs")  # newer, same name, another network: not ours
    assert R.list_runs(root)[0]["id"] == theirs
    assert found(app) == first

    second = run_with_diagnostics(lenet, root, "second")  # a new run of this design: shown on the next edit
    assert found(app) == second
    lenet_layers = sorted(n["id"] for n in lenet["nodes"] if n["op"] in ("Conv2d", "Linear"))
    assert app.session_state["health_nodes"] == lenet_layers

    settle(root)
    shutil.rmtree(root / second)  # deleted (from the Train page, or by hand): the older run again
    assert found(app) == first
    shutil.rmtree(root / first)
    assert found(app) is None and app.session_state["health_nodes"] is None

    app.session_state["graph"] = other  # the other design finds its own run
    assert found(app) == theirs
