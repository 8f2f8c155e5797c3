"""Check that this bundle's RBM (model.py + weights.safetensors) gives the app's outputs and recommendations.

    python test_model.py        # prints what it checked; exit status 0 when everything matches
    pytest test_model.py        # the same checks as pytest tests

sample.safetensors holds users' rating vectors (ratings / 5, as the app fed them), the hidden probabilities the
app's model computed for them, and the app's top-10 recommendations for each (movie indices and predicted stars).
train_config.json's "classes" are the movie titles, in the model's order. Needs only torch and safetensors.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
RTOL, ATOL = 1e-4, 1e-4


def manifest() -> dict:
    return json.loads((HERE / "bundle.json").read_text(encoding="utf-8"))


def load_model() -> torch.nn.Module:
    from safetensors.torch import load_file

    sys.path.insert(0, str(HERE))
    from model import Net

    model = Net()
    model.load_state_dict(load_file(str(HERE / "weights.safetensors")))
    return model.eval()


def rbm_of(model: torch.nn.Module) -> torch.nn.Module:
    return next(m for m in model.modules() if hasattr(m, "recommend"))


def sample() -> dict:
    from safetensors.torch import load_file

    return load_file(str(HERE / "sample.safetensors"))


def test_files_are_the_ones_exported():
    for name, digest in manifest()["sha256"].items():
        actual = hashlib.sha256((HERE / name).read_bytes()).hexdigest()
        assert actual == digest, f"{name} changed since export: SHA-256 {actual} != {digest}"


def test_hidden_probabilities_match_the_app():
    z = sample()
    with torch.no_grad():
        got = load_model()(z["input_0"])
    torch.testing.assert_close(got, z["output_0"], rtol=RTOL, atol=ATOL)


def test_recommendations_match_the_app():
    z = sample()
    rbm = rbm_of(load_model())
    for u, v in enumerate(z["input_0"]):
        idx, score = rbm.recommend(v, z["recommend_index"].shape[1])
        assert idx.tolist() == z["recommend_index"][u].tolist(), f"user row {u}: other movies than the app's"
        torch.testing.assert_close(score, z["recommend_score"][u], rtol=RTOL, atol=ATOL)


def main() -> int:
    tests = [test_files_are_the_ones_exported, test_hidden_probabilities_match_the_app,
             test_recommendations_match_the_app]
    failed = 0
    for t in tests:
        try:
            t()
            print(f"ok    {t.__name__}")
        except AssertionError as e:
            failed += 1
            print(f"FAIL  {t.__name__}: {e}")
    z = sample()
    titles = json.loads((HERE / "train_config.json").read_text(encoding="utf-8")).get("classes") or []
    if titles:
        top = [titles[i] for i in z["recommend_index"][0][:3].tolist()]
        print(f"first user's top 3: {'; '.join(top)}")
    print(f"{manifest()['name']}: {len(tests) - failed}/{len(tests)} checks passed on {len(z['input_0'])} users.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
