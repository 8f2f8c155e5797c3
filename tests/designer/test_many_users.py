"""Eight simulated users on one app at once (benchmarks/many_users.py with N = 8): each designs, trains a tiny net
on mnist-sample through the shared queue and exports; every run finishes and nobody sees anything of anybody
else's (cross-talk 0). The figures it prints (page response, queue waits, memory) are for people; nothing about
time is asserted."""
from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # eight real trainer processes


def test_eight_users_all_finish_with_no_cross_talk(tmp_path, monkeypatch):
    for var in ("CONVAS_HOME", "CONVAS_MAX_TRAININGS", "OMP_NUM_THREADS", "CONVAS_RUNS", "CONVAS_ACCESS_TOKEN"):
        monkeypatch.setenv(var, "1")  # main() sets some of these: monkeypatch puts them all back afterwards
        monkeypatch.delenv(var)
    spec = importlib.util.spec_from_file_location("many_users", ROOT / "benchmarks" / "many_users.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "many_users", bench)  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    out = bench.main(["--users", "8", "--steps", "10", "--max-trainings", "2", "--home", str(tmp_path),
                      "--timeout", "600"])
    assert out["finished"] == 8
    assert out["cross_talk"] == 0
    assert out["trainings_at_once"] == 2
