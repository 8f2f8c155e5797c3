"""engine.train.run_index: the runs of a design, found without reading every run on each call, and never stale: a
new run of the design is found, a deleted one is gone, a run of another design (even of the same name) is not
picked, a run whose diagnostics appear later is found then. engine.train.runs.list_runs and the fingerprint hash
are the oracle for what the index answers."""
from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from engine.train import runs as R
from engine.train.fingerprint import design_fingerprint
from engine.train.run_index import RunIndex, index_for
from engine.train.rundir import RunDir
from tests.conftest import TEMPLATES

CFG = {"data": "mnist-sample", "epochs": 1}


def design(name: str) -> dict:
    return json.loads((TEMPLATES / f"{name}.json").read_text())


def key(g: dict) -> str:
    return design_fingerprint(R.load_graph(g))["hash"]


def make_run(g: dict, root, name: str, diagnostics: bool = True) -> str:
    run = RunDir(R.prepare_run(g, CFG, root, name=name))
    if diagnostics:
        run.diagnostics_path.write_text(json.dumps({"step": 1, "nodes": {}}) + "\n")
    return run.id


def settle(root) -> None:
    """Date the runs folder's last change a minute back, as if the user edited for a while after it: the index
    then trusts its listing (a change within RACY_S of a listing is listed again; that rule has its own test)."""
    past = time.time() - 60
    os.utime(root, (past, past))


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "runs"
    r.mkdir()
    return r


def test_newest_run_of_the_design_not_of_another_design_of_the_same_name(root):
    lenet, other = design("lenet5"), {**design("mnist_cnn"), "name": design("lenet5")["name"]}
    older = make_run(lenet, root, "ours")
    newer = make_run(lenet, root, "ours again")
    theirs = make_run(other, root, "theirs, newest")  # same name, another network
    settle(root)
    idx = RunIndex(root)
    assert [r.id for r in idx.runs()] == [r["id"] for r in R.list_runs(root)]  # the order list_runs gives
    assert idx.latest(key(lenet)).id == newer
    assert [r.id for r in idx.of_design(key(lenet))] == [newer, older]
    assert idx.latest(key(other)).id == theirs
    renamed = {**lenet, "name": "LeNet, renamed"}  # same network, other name: the same runs
    assert idx.latest(key(renamed)).id == newer
    assert idx.latest(None) is None


def test_nothing_changed_no_listing_and_a_new_or_deleted_run_is_seen_at_once(root):
    lenet = design("lenet5")
    first = make_run(lenet, root, "first")
    settle(root)
    idx = RunIndex(root)
    assert idx.latest(key(lenet)).id == first
    listings = idx.listings
    for _ in range(50):  # edits on the Design page, no run made or deleted: the folder is not listed again
        assert idx.latest(key(lenet)).id == first
    assert idx.listings == listings

    second = make_run(lenet, root, "second")  # a new run of the design: found on the next call
    assert idx.latest(key(lenet)).id == second
    settle(root)
    shutil.rmtree(root / second)  # deleted: gone on the next call
    assert idx.latest(key(lenet)).id == first
    assert second not in [r.id for r in idx.runs()]
    shutil.rmtree(root / first)
    assert idx.latest(key(lenet)) is None
    assert idx.runs() == [r for r in idx.runs() if r.id in {x["id"] for x in R.list_runs(root)}] == []


def test_diagnostics_that_appear_later_are_found_without_a_folder_change(root):
    lenet = design("lenet5")
    run_id = make_run(lenet, root, "starting", diagnostics=False)
    settle(root)
    idx = RunIndex(root)
    assert idx.latest(key(lenet)) is None  # no diagnostics yet: no overlay
    assert idx.latest(key(lenet), has_diagnostics=False).id == run_id
    RunDir(root / run_id).diagnostics_path.write_text("{}\n")  # the trainer's first step
    assert idx.latest(key(lenet)).id == run_id


def test_a_run_directory_still_being_written_is_picked_up_when_complete(root):
    lenet = design("lenet5")
    d = R.new_run_dir(root, "being made")  # folder and run.json, no graph.json yet
    settle(root)
    idx = RunIndex(root)
    assert idx.runs() == []
    listings = idx.listings
    run = RunDir(d)
    run.write_graph(R.load_graph(lenet))  # written inside the folder: the folder's own stat does not change
    run.diagnostics_path.write_text("{}\n")
    assert idx.latest(key(lenet)).id == d.name
    assert idx.listings == listings  # looked at that one folder again, not the whole list
    (root / "notes").mkdir()  # a stray folder is never a run
    assert [r.id for r in idx.runs()] == [d.name]


def test_a_folder_changed_within_the_racy_window_is_listed_again(root):
    """Two changes within one tick of the file system's clock leave one mtime: a listing taken right after a change
    is not trusted, so a run deleted and another made in that same tick (same mtime, same number of folders) are
    still seen."""
    lenet = design("lenet5")
    a = make_run(lenet, root, "a")
    idx = RunIndex(root)
    assert idx.latest(key(lenet)).id == a
    before = os.stat(root)
    shutil.rmtree(root / a)
    b = make_run(lenet, root, "b")
    os.utime(root, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same tick: the folder's stat is unchanged
    after = os.stat(root)
    assert (after.st_ino, after.st_mtime_ns, after.st_nlink) == (before.st_ino, before.st_mtime_ns, before.st_nlink)
    assert idx.latest(key(lenet)).id == b


def test_index_for_is_one_index_per_folder(root, tmp_path):
    assert index_for(root) is index_for(str(root))
    assert index_for(root) is not index_for(tmp_path / "elsewhere")
