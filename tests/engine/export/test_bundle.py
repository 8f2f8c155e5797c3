"""The verified bundle: unzipped into a temporary folder, its test_model.py and train.py run in fresh processes
that cannot import the engine (python -I, cwd outside the repository)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import engine
from engine.data import load_data
from engine.export.bundle import Sample, build_bundle, bundle_bytes, load_sample
from engine.train.rundir import RunDir
from tests.conftest import TEMPLATES

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"OMP_NUM_THREADS": "1"}


def tpl(name: str) -> Path:
    return TEMPLATES / f"{name}.json"


def unzip(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(dest)
        (top,) = {n.split("/")[0] for n in z.namelist()}
    return dest / top


def run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


def torchrun(n: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-I", "-m", "torch.distributed.run", f"--nproc_per_node={n}", "--master-port",
                str(_free_port()), "train.py", "--device", "cpu", *args], cwd)  # gloo, even where a GPU is


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mnist_sample() -> Sample:
    from engine.export.bundle import sample_of

    return sample_of(load_data("mnist-sample"), n_train=512, n_val=256)


@pytest.fixture(scope="module")
def mnist_bundle(tmp_path_factory, mnist_sample) -> Path:
    tmp = tmp_path_factory.mktemp("bundle")
    config = {"data": "mnist-sample", "epochs": 1, "batch_size": 64, "optimizer": "adam", "lr": 2e-3,
              "schedule": "onecycle", "seed": 0, "augment": "auto", "log_every": 1}
    zip_path = build_bundle(tpl("mnist_cnn"), tmp / "mnist_cnn.zip", train_config=config,
                            sample=mnist_sample)
    return unzip(zip_path, tmp / "unzipped")


def test_bundle_holds_every_file_and_no_engine_import(mnist_bundle):
    names = {p.name for p in mnist_bundle.iterdir()}
    assert names == {"model.py", "weights.safetensors", "sample.safetensors", "test_model.py", "train.py",
                     "train_config.json", "data_sample.safetensors", "graph.json", "bundle.json", "README.md"}
    for py in ("model.py", "test_model.py", "train.py"):
        text = (mnist_bundle / py).read_text()
        assert "import engine" not in text and "from engine" not in text, py
    manifest = json.loads((mnist_bundle / "bundle.json").read_text())
    assert manifest["params"] == 3_274_634
    assert manifest["input_shapes"] == [[1, 28, 28]] and manifest["output_shapes"] == [[10]]
    assert engine.load_graph(mnist_bundle / "graph.json").name == "MNIST CNN (TensorFlow tutorial)"
    cfg = json.loads((mnist_bundle / "train_config.json").read_text())
    assert cfg["train"]["augment"] == "none"  # 'auto' resolved to what it means for digits
    assert cfg["input_shape"] == [1, 28, 28]


def test_sample_batch_is_real_digits_with_the_apps_outputs(mnist_bundle, mnist_sample):
    z = load_file(str(mnist_bundle / "sample.safetensors"))
    assert z["input_0"].shape == (16, 1, 28, 28) and z["input_0"].dtype == torch.float32
    assert torch.equal(z["input_0"], mnist_sample.x_val[:16].float() / 255)
    assert torch.equal(z["labels"], mnist_sample.y_val[:16])
    model = engine.build_module(mnist_bundle / "graph.json").eval()
    model.load_state_dict(load_file(str(mnist_bundle / "weights.safetensors")))
    with torch.no_grad():
        torch.testing.assert_close(model(z["input_0"]), z["output_0"], rtol=0, atol=0)


def test_test_model_passes_in_a_fresh_process(mnist_bundle, tmp_path):
    r = run([sys.executable, "-I", str(mnist_bundle / "test_model.py")], cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3/3 checks passed on 16 sample inputs" in r.stdout


@pytest.mark.slow  # runs the bundle's scripts in fresh processes
def test_test_model_runs_under_pytest(mnist_bundle):
    r = run([sys.executable, "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_model.py"], cwd=mnist_bundle)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 passed" in r.stdout


def test_test_model_fails_when_weights_change(mnist_bundle, tmp_path):
    import shutil

    copy = tmp_path / "tampered"
    shutil.copytree(mnist_bundle, copy)
    w = load_file(str(copy / "weights.safetensors"))
    w["fc2.bias"] = w["fc2.bias"] + 0.5
    save_file(w, str(copy / "weights.safetensors"))
    r = run([sys.executable, "-I", str(copy / "test_model.py")], cwd=tmp_path)
    assert r.returncode == 1
    assert "FAIL  test_files_are_the_ones_exported" in r.stdout and "FAIL  test_outputs_match_the_app" in r.stdout


def test_trained_weights_go_into_the_bundle(mnist_sample, tmp_path):
    g = engine.load_graph(tpl("lenet5"))
    torch.manual_seed(123)
    trained = engine.build_module(g).state_dict()
    data = bundle_bytes(g, state_dict=trained, sample=mnist_sample, batch_size=8)
    (tmp_path / "b.zip").write_bytes(data)
    d = unzip(tmp_path / "b.zip", tmp_path)
    w = load_file(str(d / "weights.safetensors"))
    assert set(w) == set(trained) and all(torch.equal(w[k], trained[k]) for k in w)
    assert json.loads((d / "bundle.json").read_text())["trained"] is True
    r = run([sys.executable, "-I", "test_model.py"], cwd=d)
    assert r.returncode == 0 and "3/3 checks passed on 8 sample inputs" in r.stdout, r.stdout + r.stderr


def test_without_data_the_sample_is_noise_and_still_verifies(tmp_path):
    zip_path = build_bundle(tpl("mnist_rmsprop_cnn"), tmp_path / "x.zip", batch_size=4)
    d = unzip(zip_path, tmp_path)
    assert not (d / "data_sample.safetensors").exists()
    assert "labels" not in load_file(str(d / "sample.safetensors"))
    r = run([sys.executable, "-I", "test_model.py"], cwd=d)
    assert r.returncode == 0, r.stdout + r.stderr


def test_load_sample_reads_the_runs_data():
    s = load_sample({"data": "mnist-sample", "seed": 0, "val_fraction": 0.1}, tpl("mnist_cnn"))
    assert s is not None and s.x_train.dtype == torch.uint8 and s.x_train.shape[1:] == (1, 28, 28)
    assert load_sample({"data": "/no/such/folder"}, tpl("mnist_cnn")) is None


@pytest.mark.slow  # runs the bundle's scripts in fresh processes
def test_train_py_under_torchrun_with_two_gloo_processes(mnist_bundle):
    r = torchrun(2, "--epochs", "1", "--max-steps", "5", "--out", "ddp.safetensors", cwd=mnist_bundle)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "2 process(es) on cpu" in r.stdout and "5 steps of global batch 64" in r.stdout
    assert "epoch 1 step 5/5" in r.stdout and "val acc" in r.stdout
    w = load_file(str(mnist_bundle / "ddp.safetensors"))
    before = load_file(str(mnist_bundle / "weights.safetensors"))
    assert set(w) == set(before)


@pytest.mark.slow  # runs the bundle's scripts in fresh processes
def test_two_processes_follow_the_same_optimisation_as_one(tmp_path, mnist_sample):
    """DDP averages the gradients of two half batches: the weights after 3 steps match one process (LeNet-5 has
    no dropout, so no per-rank randomness)."""
    config = {"epochs": 1, "batch_size": 32, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "constant",
              "seed": 3, "augment": "none", "log_every": 1}
    d = unzip(build_bundle(tpl("lenet5"), tmp_path / "l.zip", train_config=config,
                           sample=mnist_sample), tmp_path)
    one = torchrun(1, "--max-steps", "3", "--out", "one.safetensors", cwd=d)
    two = torchrun(2, "--max-steps", "3", "--out", "two.safetensors", cwd=d)
    assert one.returncode == 0 and two.returncode == 0, one.stderr[-2000:] + two.stderr[-2000:]
    w1, w2 = load_file(str(d / "one.safetensors")), load_file(str(d / "two.safetensors"))
    init = load_file(str(d / "weights.safetensors"))
    assert any(not torch.allclose(w1[k], init[k]) for k in w1)  # it trained
    for k in w1:
        torch.testing.assert_close(w1[k], w2[k], rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # runs the bundle's scripts in fresh processes
def test_train_py_reads_mnist_idx_files_from_data_root(mnist_bundle, mnist_root):
    r = run([sys.executable, "-I", "train.py", "--data-root", str(mnist_root), "--max-steps", "2",
             "--out", "idx.safetensors"], cwd=mnist_bundle)
    assert r.returncode == 0, r.stdout + r.stderr
    # validation carved from the 60,000 training digits as Convas carves it; the 10,000 test digits kept for the end
    assert f"idx files in {mnist_root}: 54000 train / 6000 val / 10000 test examples" in r.stdout
    assert "test, once, on those weights: loss" in r.stdout


def _template_module(bundle: Path):
    """The bundle's train.py imported as a module (it imports only torch: the engine is never on its path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bundle_train", bundle / "train.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("seed", [0, 7])
def test_train_py_validates_on_the_digits_convas_held_out(mnist_bundle, mnist_root, seed):
    """With --data-root, train.py's validation split is the run's (same examples for the same seed), and its test
    split is the official one: a retrained model is not tuned on the test digits."""
    mod = _template_module(mnist_bundle)
    args = mod.load_settings(["--data-root", str(mnist_root), "--seed", str(seed)])
    x_tr, y_tr, x_va, y_va, x_te, y_te, _ = mod.load_data(args)
    ref = load_data("mnist", mnist_root, val_fraction=0.1, seed=seed)
    assert torch.equal(x_va, ref.x_val) and torch.equal(y_va, ref.y_val.long())
    assert torch.equal(x_tr, ref.x_train) and torch.equal(x_te, ref.x_test)


@pytest.mark.slow  # runs the bundle's scripts in fresh processes
def test_train_py_keeps_the_best_validation_epoch_and_tests_it_once(tmp_path, mnist_sample):
    """Three epochs on the sample: the weights written are those of the epoch with the best validation accuracy
    (re-scored here), and the sample's test digits are scored once, after training."""
    import re

    config = {"epochs": 3, "batch_size": 64, "optimizer": "sgd", "lr": 0.5, "momentum": 0.9, "schedule": "constant",
              "seed": 1, "augment": "none", "log_every": 100}
    d = unzip(build_bundle(tpl("lenet5"), tmp_path / "l.zip", train_config=config, sample=mnist_sample), tmp_path)
    r = run([sys.executable, "-I", "train.py", "--out", "best.safetensors"], cwd=d)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    accs = [float(a) for a in re.findall(r"epoch \d+: val loss [\d.]+  val acc ([\d.]+)", r.stdout)]
    assert len(accs) == 3
    best = max(range(3), key=lambda i: (accs[i], -i)) + 1  # the first epoch reaching the best accuracy
    assert f"kept the weights of epoch {best} (best validation accuracy)" in r.stdout
    assert r.stdout.count("test, once, on those weights") == 1
    assert r.stdout.index("kept the weights") < r.stdout.index("test, once, on those weights")
    net = engine.build_module(engine.load_graph(tpl("lenet5")))
    net.load_state_dict(load_file(str(d / "best.safetensors")))
    net.eval()
    with torch.no_grad():
        pred = net(mnist_sample.x_val.float() / 255).argmax(1)
    assert abs(float((pred == mnist_sample.y_val).float().mean()) - accs[best - 1]) < 1e-4


@pytest.mark.slow  # runs the bundle's scripts in fresh processes
def test_train_py_augments_as_the_run_did(mnist_bundle):
    r = run([sys.executable, "-I", "train.py", "--augment", "crop+flip", "--max-steps", "2", "--log-every", "1",
             "--out", "aug.safetensors"], cwd=mnist_bundle)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "step 2/2" in r.stdout


def test_train_py_refuses_data_of_another_shape(tmp_path, mnist_sample):
    g = engine.load_graph(tpl("mnist_cnn")).to_dict()
    g["nodes"][0]["params"]["shape"] = [3, 28, 28]
    d = unzip(build_bundle(g, tmp_path / "c.zip", sample=mnist_sample), tmp_path)
    r = run([sys.executable, "-I", "train.py", "--max-steps", "1"], cwd=d)
    assert r.returncode != 0
    assert "the data's images are 1x28x28 but the model takes 3x28x28" in r.stderr


def test_bundle_of_a_trained_run_carries_its_weights_and_settings(tmp_path):
    from engine.export.bundle import bundle_from_run
    from engine.train import runs, trainer

    config = {"data": "mnist-sample", "epochs": 1, "batch_size": 64, "max_steps": 4, "log_every": 2, "seed": 5,
              "optimizer": "sgd", "lr": 0.05, "schedule": "cosine"}
    run_dir = runs.prepare_run(tpl("lenet5"), config, tmp_path / "runs")
    trainer.resume(run_dir)
    assert RunDir(run_dir).status()["state"] == "finished", RunDir(run_dir).status()["message"]
    d = unzip(bundle_from_run(run_dir, tmp_path / "run.zip"), tmp_path / "out")
    _, model = runs.load_trained(run_dir)
    w = load_file(str(d / "weights.safetensors"))
    assert all(torch.equal(w[k], v) for k, v in model.state_dict().items())
    assert json.loads((d / "bundle.json").read_text())["trained"] is True
    cfg = json.loads((d / "train_config.json").read_text())
    assert cfg["train"]["optimizer"] == "sgd" and cfg["train"]["schedule"] == "cosine" and cfg["data"] == "mnist-sample"
    z = load_file(str(d / "sample.safetensors"))
    val = load_data("mnist-sample", seed=5).x_val[:16]  # the run's own split (seed 5), not the default one
    assert torch.equal(z["input_0"], val.float() / 255)
    r = run([sys.executable, "-I", "test_model.py"], cwd=d)
    assert r.returncode == 0, r.stdout + r.stderr
