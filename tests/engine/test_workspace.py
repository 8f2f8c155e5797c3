"""Workspaces of a Convas home: random validated ids, the home workspace adopting what CONVAS_HOME held before,
separate files for every other one, and share links to a copy of a design or a run."""
from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import engine
from engine.train import runs as R
from engine.workspace import WorkspaceError, Workspaces, check_id, valid_id
from tests.conftest import ROOT, TEMPLATES


def test_the_first_workspace_adopts_the_existing_autosave_and_runs_in_place(tmp_path):
    engine.save_graph(engine.load_graph(TEMPLATES / "lenet5.json"), tmp_path / "autosave.json")
    old_run = R.prepare_run(TEMPLATES / "lenet5.json", {"data": "mnist-sample"}, tmp_path / "runs", "before")
    wss = Workspaces(tmp_path)
    first = wss.open(None)
    assert first.is_home
    assert first.autosave == tmp_path / "autosave.json" and engine.load_graph(first.autosave).name == "LeNet-5"
    assert [r["path"] for r in R.list_runs(first.runs)] == [str(old_run)]  # nothing moved, nothing lost
    second = wss.open(None)
    assert not second.is_home and second.id != first.id
    assert second.autosave == tmp_path / "workspaces" / second.id / "autosave.json"
    assert not second.autosave.exists() and R.list_runs(second.runs) == []  # a newcomer starts empty
    assert wss.open(first.id) == first and wss.open(second.id) == second  # the cookie's id opens it again
    assert [w["id"] for w in wss.summary()] == [first.id, second.id]
    assert wss.summary()[0]["runs"] == 1 and wss.summary()[0]["design"]


def test_runs_override_moves_only_the_home_workspaces_runs(tmp_path):
    wss = Workspaces(tmp_path / "home", runs_override=tmp_path / "elsewhere")
    home, other = wss.create(), wss.create()
    assert home.runs == tmp_path / "elsewhere"
    assert other.runs == tmp_path / "home" / "workspaces" / other.id / "runs"


def test_exactly_one_home_workspace_when_many_arrive_at_once(tmp_path):
    wss = Workspaces(tmp_path)
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: wss.create(), range(16)))
    assert sum(w.is_home for w in (wss.get(w.id) for w in made)) == 1
    assert len({w.id for w in made}) == 16


@pytest.mark.parametrize("bad", [None, "", "../../etc", "..", "A" * 32, "0" * 31, "0" * 33, "0" * 31 + "/",
                                 "g" * 32, 12345, ["0" * 32]])
def test_a_malformed_id_never_becomes_a_path(tmp_path, bad):
    wss = Workspaces(tmp_path)
    assert not valid_id(bad)
    assert wss.get(bad) is None
    ws = wss.open(bad)  # a browser sending it gets a new workspace of its own
    assert valid_id(ws.id) and ws.id != bad
    assert ws.path.parent == tmp_path.resolve() / "workspaces"
    with pytest.raises(WorkspaceError, match="32 lowercase hex digits"):
        check_id(bad)


def test_an_unknown_well_formed_id_is_not_adopted(tmp_path):
    wss = Workspaces(tmp_path)
    wss.create()
    chosen = "0123456789abcdef" * 2
    ws = wss.open(chosen)  # a client does not get to choose its id
    assert ws.id != chosen and not (tmp_path / "workspaces" / chosen).exists()


def test_a_shared_design_is_a_copy(tmp_path):
    wss = Workspaces(tmp_path)
    g = engine.load_graph(TEMPLATES / "lenet5.json").to_dict()
    token = wss.share_design(g)
    g["name"] = "changed after sharing"
    got = Workspaces(tmp_path).shared(token)  # another server process reads it the same
    assert got["kind"] == "design" and got["graph"]["name"] == "LeNet-5"
    assert got["graph"] == engine.load_graph(TEMPLATES / "lenet5.json").to_dict()
    with pytest.raises(WorkspaceError, match="unknown here"):
        wss.shared("0" * 32)
    with pytest.raises(WorkspaceError, match="not a share token"):
        wss.shared("../autosave")
    with pytest.raises(engine.GraphError):
        wss.share_design({"format": "convas-graph", "nodes": "not a list"})


def test_a_shared_run_resolves_inside_its_workspace_only(tmp_path):
    wss = Workspaces(tmp_path)
    ws = wss.create()
    run = R.prepare_run(TEMPLATES / "lenet5.json", {"data": "mnist-sample"}, ws.runs, "shared run")
    token = wss.share_run(ws, run.name)
    assert wss.shared(token) == {"kind": "run", "run_dir": run}
    for bad in ("../workspaces", "..", "a/b", "", "x" * 200):
        with pytest.raises(WorkspaceError):
            wss.share_run(ws, bad)


def test_cli_lists_workspaces(tmp_path):
    wss = Workspaces(tmp_path)
    a = wss.create()
    engine.save_graph(engine.load_graph(TEMPLATES / "lenet5.json"), a.autosave)
    wss.create()
    out = subprocess.run([sys.executable, "-m", "engine", "workspaces", "list", "--home", str(tmp_path), "--json"],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    items = json.loads(out)
    assert [(w["id"], w["home"], w["design"]) for w in items][0] == (a.id, True, True)
    assert len(items) == 2 and not items[1]["design"]
    bad = subprocess.run([sys.executable, "-m", "engine", "workspaces", "--home", str(tmp_path / "none")],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "is not a folder" in bad.stdout


def test_a_signed_in_person_gets_one_workspace_from_any_browser(tmp_path):
    wss = Workspaces(tmp_path)
    wss.create()  # the home workspace is someone else's
    ana = wss.for_user("https://idp.example|ana")
    assert wss.for_user("https://idp.example|ana") == ana and not ana.is_home
    assert wss.for_user("https://idp.example|../../ben") != ana
    assert all(p.parent == tmp_path / "workspaces" / "users" for p in (tmp_path / "workspaces" / "users").glob("*.json"))
