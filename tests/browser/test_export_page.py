"""The Export page in a real browser: download model.py and the verified bundle, and run the bundle's test in a
fresh Python process; export a trained run (its weights go into the bundle); TorchScript and ONNX load back."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile

import pytest
import torch
from playwright.sync_api import expect

import engine
from engine.train.rundir import RunDir
from tests.browser.conftest import open_page, screenshot_whole, wait_for_app_idle, wait_for_app_ready
from tests.conftest import TEMPLATES

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def trained_run(app_server):
    """A LeNet-5 run of a few steps in the app's runs folder, trained by the engine as the Train page would."""
    from engine.train import runs, trainer

    config = {"data": "mnist-sample", "epochs": 1, "max_steps": 6, "log_every": 2, "seed": 1}
    run_dir = runs.prepare_run(TEMPLATES / "lenet5.json", config, app_server.home / "runs")
    trainer.resume(run_dir)
    assert RunDir(run_dir).status()["state"] == "finished"
    return run_dir


def download(page, button_name: str, tmp_path, scope=None):
    where = scope or page
    with page.expect_download(timeout=120_000) as dl:
        where.get_by_role("button", name=button_name).click()
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    return path


def unzip(path, dest):
    with zipfile.ZipFile(path) as z:
        z.extractall(dest)
        (top,) = {n.split("/")[0] for n in z.namelist()}
    return dest / top


def card(page, fmt: str):
    return page.locator(f".st-key-card_{fmt}")


def test_download_model_py_and_the_bundle_and_run_its_test(page, tmp_path):
    wait_for_app_ready(page)
    open_page(page, "Export")
    expect(page.locator("[data-testid=stCode]").first).to_contain_text("class Net(nn.Module):")
    expect(page.locator("[data-testid=stMetric]").filter(has_text="Weights")).to_contain_text("untrained")
    model_py = download(page, "Download", tmp_path, card(page, "py"))
    assert model_py.name == "model.py"
    seed = engine.load_graph(TEMPLATES / "mnist_cnn.json")
    assert model_py.read_text() == engine.to_python(seed)
    r = subprocess.run([sys.executable, "-E", "-s", "-c", "import torch, model; print(tuple(model.Net()("
                        "torch.zeros(2, 1, 28, 28)).shape))"], cwd=tmp_path, env=ENV, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "(2, 10)", r.stderr

    bundle = download(page, "Download bundle", tmp_path)
    d = unzip(bundle, tmp_path / "bundle")
    r = subprocess.run([sys.executable, "-I", "test_model.py"], cwd=d, env=ENV, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3/3 checks passed on 16 sample inputs" in r.stdout
    assert json.loads((d / "bundle.json").read_text())["trained"] is False
    screenshot_whole(page, "export_page")


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_export_a_trained_run(page, tmp_path, trained_run):
    wait_for_app_ready(page)
    open_page(page, "Export")
    page.get_by_role("combobox", name="Export").click()
    page.get_by_role("option", name="Run LeNet-5").click()
    wait_for_app_idle(page)
    expect(page.locator("[data-testid=stMetric]").filter(has_text="Weights")).to_contain_text(
        re.compile(r"Weights\s*trained"))
    expect(page.locator("[data-testid=stCode]").first).to_contain_text("self.conv1 = nn.Conv2d(1, 6")

    page.get_by_role("button", name="Verify here").click()
    expect(page.locator("[data-testid=stAlertContentSuccess]")).to_contain_text(
        "3/3 checks passed on 16 sample inputs", timeout=120_000)

    from engine.train import runs

    _, model = runs.load_trained(trained_run)
    bundle = download(page, "Download bundle", tmp_path)
    d = unzip(bundle, tmp_path / "bundle")
    from safetensors.torch import load_file

    w = load_file(str(d / "weights.safetensors"))
    assert all(torch.equal(w[k], v) for k, v in model.state_dict().items())
    r = subprocess.run([sys.executable, "-I", "test_model.py"], cwd=d, env=ENV, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr

    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        want = model(x)
    ts = download(page, "Download", tmp_path, card(page, "torchscript"))
    torch.testing.assert_close(torch.jit.load(str(ts))(x), want, rtol=1e-4, atol=1e-5)
    onnx_file = download(page, "Download", tmp_path, card(page, "onnx"))
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-4, atol=1e-5)
    st_file = download(page, "Download", tmp_path, card(page, "safetensors"))
    assert set(load_file(str(st_file))) == set(model.state_dict())
    screenshot_whole(page, "export_trained")
