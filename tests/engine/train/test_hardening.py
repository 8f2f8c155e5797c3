"""Hostile training runs: a NaN must not leave a poisoned "good" checkpoint, a run that diverges without a NaN is
flagged, a changed design does not resume silently, and a malicious checkpoint is refused in our words.

Tiny runs on purpose (320 bundled digits, a small CNN, a handful of steps); the ones that train to the end and
resume are marked slow.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import torch

from engine.__main__ import main as cli_main
from engine.export.formats import read_weights as export_read_weights
from engine.graph import load_graph
from engine.safeload import NotACheckpoint
from engine.train.fingerprint import design_changes, design_fingerprint
from engine.train.rundir import RunDir
from engine.train.runs import load_trained, override_lr
from engine.train.store import read_json
from engine.train.trainer import resume, train
from tests.engine.train.test_trainer import SMALL, assert_same_weights, cfg, status, weights


def sgd(**kw):
    return cfg(**{"optimizer": "sgd", "schedule": "constant", "augment": "none", "log_every": 1,
                  "checkpoint_every": 1, "epochs": 1, **kw})


def finite(run: Path) -> bool:
    return all(torch.isfinite(t).all() for t in weights(run, "last").values())


# ---- defect 9: the checkpoint kept after a NaN is good --------------------------------------------------------

@pytest.mark.slow  # trains (and resumes) a run for real
def test_after_a_nan_the_checkpoint_of_the_step_before_is_dropped_and_a_lower_lr_trains(tmp_path):
    run = train(SMALL, sgd(lr=1e20), tmp_path / "r")
    st = status(run)
    assert st["state"] == "failed"
    # the loss of step 2 is computed with the weights after update 1: checkpoint 1 is as bad as the NaN
    assert "loss became NaN at step 2" in st["message"] or "loss became infinite at step 2" in st["message"]
    assert "checkpoint of step 1 already held the diverged weights and was removed" in st["message"]
    assert "no good checkpoint is left" in st["message"]
    assert not RunDir(run).has_checkpoint()
    override_lr(run, 0.05)  # what `train --resume RUN --lr 0.05` does
    resume(run)
    st = status(run)
    assert st["state"] == "finished", st["message"]
    rows = RunDir(run).metrics()[0]
    assert all(r["train_loss"] < 10 for r in rows if r["kind"] == "step")
    assert finite(run) and not st.get("warning")


@pytest.mark.slow  # trains (and resumes) a run for real
def test_after_a_nan_the_previous_good_checkpoint_is_restored(tmp_path):
    run = train(SMALL, sgd(lr=0.05), tmp_path / "r", should_stop=lambda step: step >= 3)
    assert status(run)["state"] == "stopped"
    good = weights(run)
    override_lr(run, 1e20)  # step 4 trains from good weights (finite loss), update 4 explodes, step 5 is NaN
    resume(run)
    st = status(run)
    assert st["state"] == "failed"
    assert "checkpoint of step 4 already held the diverged weights and was removed; the last good checkpoint " \
           "(step 3) is kept" in st["message"], st["message"]
    assert read_json(run / "checkpoints" / "last.json")["step"] == 3
    assert sorted(p.name for p in (run / "checkpoints").glob("last-*")) == ["last-3.pt", "last-3.safetensors"]
    assert_same_weights(good, weights(run))
    override_lr(run, 0.05)
    resume(run)
    assert status(run)["state"] == "finished" and finite(run)


@pytest.mark.slow  # trains (and resumes) a run for real
def test_a_run_that_diverges_without_nan_is_flagged(tmp_path, capsys):
    run = train(SMALL, sgd(lr=1e12, epochs=2, checkpoint_every=0), tmp_path / "r")
    st = status(run)
    assert st["state"] == "finished"  # no NaN: it "finishes", at chance accuracy
    assert st["warning"].startswith("the training diverged: the loss reached ")
    assert "lower learning rate (now 1e+12)" in st["warning"]
    rows = RunDir(run).metrics()[0]
    assert rows[0]["step"] == 1 and "diverged" not in rows[0]  # the first step is the reference
    assert all(r.get("diverged") for r in rows[1:])
    assert "warning: the training diverged" in capsys.readouterr().out  # log.txt is the trainer's stdout
    calm = train(SMALL, cfg(epochs=1), tmp_path / "calm")  # a normal run is not flagged
    assert status(calm)["state"] == "finished" and status(calm).get("warning") is None
    assert not any(r.get("diverged") for r in RunDir(calm).metrics()[0])


@pytest.mark.slow  # trains (and resumes) a run for real
def test_the_cli_prints_the_divergence_warning(tmp_path, capsys):
    g = tmp_path / "g.json"
    g.write_text(json.dumps(SMALL))
    rc = cli_main(["train", str(g), "--data", "mnist-sample", "--limit", "320", "--batch-size", "64", "--epochs",
                   "1", "--optimizer", "sgd", "--lr", "1e12", "--schedule", "constant", "--augment", "none",
                   "--out", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "warning: the training diverged" in out.splitlines()[-1]


# ---- defect 10: a changed design does not resume --------------------------------------------------------------

def changed(graph: dict, node_id: str, op: str | None = None, **params) -> dict:
    g = json.loads(json.dumps(graph))
    for n in g["nodes"]:
        if n["id"] == node_id:
            n["op"] = op or n["op"]
            n["params"] = {**n.get("params", {}), **params}
    return g


@pytest.mark.parametrize("graph,line", [
    (changed(SMALL, "relu", "Tanh"), "relu: ReLU → Tanh"),
    (changed(SMALL, "pool", "AvgPool2d"), "pool: MaxPool2d → AvgPool2d"),
    (changed(SMALL, "drop", p=0.5), "drop: p 0.3 → 0.5"),
])
def test_a_changed_design_is_refused_naming_the_layer(tmp_path, graph, line):
    run = train(SMALL, cfg(), tmp_path / "r", should_stop=lambda step: step >= 2)
    (run / "graph.json").write_text(json.dumps(graph))
    resume(run)
    st = status(run)
    assert st["state"] == "failed"
    assert st["message"].startswith("the design changed since the checkpoint at step 2 was written (1 change(s): "
                                    f"{line}).")
    assert read_json(run / "checkpoints" / "last.json")["step"] == 2  # nothing was trained over it


@pytest.mark.slow  # trains (and resumes) a run for real
def test_name_and_layout_may_change_and_old_checkpoints_still_resume(tmp_path):
    run = train(SMALL, cfg(), tmp_path / "r", should_stop=lambda step: step >= 2)
    g = json.loads(json.dumps(SMALL))
    g["name"] = "renamed"
    for i, n in enumerate(g["nodes"]):
        n["ui"] = {"x": 100.0 * i, "y": 7.0}
    g["nodes"][4]["params"] = {}
    (run / "graph.json").write_text(json.dumps(g))
    resume(run, should_stop=lambda step: step >= 4)
    assert status(run)["state"] == "stopped", status(run)["message"]
    ptr = read_json(run / "checkpoints" / "last.json")  # a checkpoint from before fingerprints: no "design"
    state = torch.load(run / "checkpoints" / ptr["state"], weights_only=True)
    del state["design"]
    torch.save(state, run / "checkpoints" / ptr["state"])
    (run / "graph.json").write_text(json.dumps(changed(SMALL, "relu", "Tanh")))
    resume(run)
    assert status(run)["state"] == "finished", status(run)["message"]


def test_design_changes_lists_every_difference():
    a = design_fingerprint(load_graph(SMALL))
    assert design_changes(a, a) == [] and design_changes(None, a) == []
    g = changed(SMALL, "conv", kernel_size=[3, 3])  # the same design, spelled differently
    assert design_changes(a, design_fingerprint(load_graph(g))) == []
    g = changed(changed(SMALL, "conv", kernel_size=5), "pool", "AvgPool2d")
    g["nodes"].insert(5, {"id": "act", "op": "GELU", "inputs": ["flat"]})
    g["nodes"][6]["inputs"] = ["act"]
    assert design_changes(a, design_fingerprint(load_graph(g))) == [
        "conv: kernel_size [3,3] → [5,5]", "pool: MaxPool2d → AvgPool2d", "act (GELU) was added",
        "drop: inputs ['flat'] → ['act']"]


# ---- defect 11: malicious checkpoints are refused in our words ------------------------------------------------

class Payload:
    """Unpickling this runs os.system: a weights_only load must refuse it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def evil_bytes(marker: Path) -> bytes:
    buf = io.BytesIO()
    torch.save({"step": 2, "optimizer": Payload(marker)}, buf)
    return buf.getvalue()


def assert_refused_in_our_words(text: str) -> None:
    assert "is not a Convas checkpoint and was not loaded" in text, text
    assert "weights_only" not in text and "Weights only" not in text


def test_a_malicious_training_state_is_refused_and_never_run(tmp_path, capsys):
    run = train(SMALL, cfg(), tmp_path / "r", should_stop=lambda step: step >= 2)
    marker = tmp_path / "pwned"
    ptr = read_json(run / "checkpoints" / "last.json")
    (run / "checkpoints" / ptr["state"]).write_bytes(evil_bytes(marker))
    capsys.readouterr()
    resume(run)
    st = status(run)
    assert st["state"] == "failed"
    assert_refused_in_our_words(st["message"])
    assert "posix.system" in st["message"] or "os.system" in st["message"]
    out = capsys.readouterr()
    assert "weights_only" not in out.out + out.err  # the trainer's log.txt: no torch advice, no traceback
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"not safetensors at all", (10**9).to_bytes(8, "little") + b"{}",
                                     (2).to_bytes(8, "little") + b"{}" + b"x" * 8])
def test_a_broken_weights_file_is_refused(tmp_path, content):
    run = tmp_path / "r"  # what load_trained reads: the graph and the weights file
    (run / "checkpoints").mkdir(parents=True)
    RunDir(run).write_graph(load_graph(SMALL))
    (run / "checkpoints" / "best.safetensors").write_bytes(content)
    with pytest.raises(NotACheckpoint) as e:
        load_trained(run, "best")
    assert_refused_in_our_words(str(e.value))
    assert "best.safetensors is not a Convas checkpoint" in str(e.value)


def test_export_weights_refuse_pickles_and_broken_files(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(evil_bytes(marker))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 16)
    for path in (evil, junk):
        with pytest.raises(NotACheckpoint, match="was not loaded"):
            export_read_weights(path)
    g = tmp_path / "g.json"
    g.write_text(json.dumps(SMALL))
    assert cli_main(["export", str(g), "-o", str(tmp_path / "m.safetensors"), "--weights", str(evil)]) == 2
    err = capsys.readouterr().err
    assert "evil.pt is not a weights file Convas can load and was not loaded" in err
    assert "weights_only" not in err and not marker.exists()
