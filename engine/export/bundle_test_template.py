"""Check that this bundle's model.py with weights.safetensors reproduces the outputs Convas computed.

    python test_model.py        # prints what it checked; exit status 0 when everything matches
    pytest test_model.py        # the same checks as pytest tests

sample.safetensors holds a batch of inputs exactly as the model received them in the app (float pixels in
[0, 1]), the outputs the app's model gave for them, and their labels. bundle.json lists every file's SHA-256.
Needs only torch and safetensors; nothing here imports Convas.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
RTOL, ATOL = 1e-4, 1e-4  # float32 on another CPU or torch build differs in the last bits, never by more


def manifest() -> dict:
    return json.loads((HERE / "bundle.json").read_text(encoding="utf-8"))


def load_model() -> torch.nn.Module:
    from safetensors.torch import load_file

    sys.path.insert(0, str(HERE))
    from model import Net

    model = Net()
    model.load_state_dict(load_file(str(HERE / "weights.safetensors")))
    return model.eval()


def load_sample() -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor | None]:
    from safetensors.torch import load_file

    z = load_file(str(HERE / "sample.safetensors"))
    inputs = [z[f"input_{i}"] for i in range(sum(k.startswith("input_") for k in z))]
    outputs = [z[f"output_{i}"] for i in range(sum(k.startswith("output_") for k in z))]
    return inputs, outputs, z.get("labels")


def run_model() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    inputs, expected, _ = load_sample()
    with torch.no_grad():
        got = load_model()(*inputs)
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    return got, expected


def test_files_are_the_ones_exported():
    for name, digest in manifest()["sha256"].items():
        actual = hashlib.sha256((HERE / name).read_bytes()).hexdigest()
        assert actual == digest, f"{name} changed since export: SHA-256 {actual} != {digest}"


def test_outputs_match_the_app():
    got, expected = run_model()
    assert len(got) == len(expected), f"the model returns {len(got)} outputs; the app saved {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g.shape == e.shape, f"output {i}: shape {tuple(g.shape)} != the app's {tuple(e.shape)}"
        torch.testing.assert_close(g, e, rtol=RTOL, atol=ATOL, msg=lambda m, i=i: f"output {i}: {m}")


def test_predictions_match_the_app():
    got, expected = run_model()
    dim = -1 if got[0].ndim == 3 else 1  # a language model's scores are B×T×V: the word axis is the last
    assert torch.equal(got[0].argmax(dim), expected[0].argmax(dim)), "predicted classes differ from the app's"


def main() -> int:
    tests = [test_files_are_the_ones_exported, test_outputs_match_the_app, test_predictions_match_the_app]
    failed = 0
    for t in tests:
        try:
            t()
            print(f"ok    {t.__name__}")
        except AssertionError as e:
            failed += 1
            print(f"FAIL  {t.__name__}: {e}")
    m = manifest()
    inputs, outputs, labels = load_sample()
    print(f"{m['name']}: {len(tests) - failed}/{len(tests)} checks passed on {len(inputs[0])} sample inputs "
          f"({m['params']:,} parameters, torch {torch.__version__}; exported with torch {m['torch']}).")
    class_dim = -1 if outputs[0].ndim == 3 else 1  # token scores T×V are last; image classes are dim 1
    if labels is not None and outputs[0].ndim >= 2 and outputs[0].argmax(class_dim).shape == labels.shape:  # not boxes
        acc = (outputs[0].argmax(class_dim) == labels).float().mean().item()
        print(f"accuracy of the app's outputs on this sample: {acc:.1%}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
