"""The RBM op's module: free energy against its definition (a sum over every hidden configuration), the softmax
visible encoding, the conditionals, recommend, and the generated source carrying the class."""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from engine.catalog.rbm_module import RBM
from engine.codegen import build_module, to_python


def _rbm(M=6, H=4, softmax=False, seed=0):
    torch.manual_seed(seed)
    m = RBM(M, H, softmax=softmax)
    with torch.no_grad():
        m.W.normal_(0, 0.7)
        m.vb.normal_(0, 0.5)
        m.hb.normal_(0, 0.5)
    return m.double()


def _brute_free_energy(x: np.ndarray, W: np.ndarray, vb: np.ndarray, hb: np.ndarray) -> float:
    """F(v) = -log Σ_h exp(-E(v, h)), E(v, h) = -vᵀb - hᵀc - vᵀWh, summed over all 2^H hidden states."""
    H = W.shape[1]
    terms = [x @ vb + np.array(h) @ hb + x @ W @ np.array(h) for h in itertools.product([0, 1], repeat=H)]
    return -math.log(sum(math.exp(t) for t in terms))


def test_free_energy_matches_its_definition_binary_and_softmax():
    v = torch.tensor([[0.8, 0.0, 1.0, 0.3, 0.0, 0.5], [0.1, 0.2, 0.0, 0.0, 0.9, 1.0]], dtype=torch.float64)
    for softmax in (False, True):
        m = _rbm(softmax=softmax)
        got = m.free_energy(v).detach().numpy()
        x = m.encode(v).numpy()
        W, vb, hb = (t.detach().numpy() for t in (m.W, m.vb, m.hb))
        want = [_brute_free_energy(x[i], W, vb, hb) for i in range(len(v))]
        np.testing.assert_allclose(got, want, rtol=1e-10)
        # and the closed form a reader checks by eye
        np.testing.assert_allclose(got, -(x @ vb) - np.log1p(np.exp(x @ W + hb)).sum(1), rtol=1e-10)


def test_softmax_units_are_one_hot_star_levels_and_absent_when_unrated():
    m = RBM(4, 2, softmax=True)
    v = torch.tensor([[0.1, 0.3, 0.0, 1.0]])  # 0.5 star, 1.5 stars, unrated, 5 stars
    x = m.encode(v).view(4, 5)
    assert x.argmax(1).tolist()[:2] == [0, 1] and x[2].sum() == 0 and x[3].argmax() == 4
    assert x.sum().item() == 3
    h = torch.rand(1, 2)
    p = m.v_prob(h)
    torch.testing.assert_close(p.sum(-1), torch.ones(1, 4))
    _, sample = m.sample_v(h, mask=m.mask(v))
    assert sample.view(4, 5).sum(1).tolist() == [1, 1, 0, 1]


def test_conditionals_and_forward():
    m = _rbm()
    v = torch.rand(3, 6, dtype=torch.float64)
    torch.testing.assert_close(m(v), torch.sigmoid(v @ m.W + m.hb))
    h = torch.rand(3, 4, dtype=torch.float64)
    torch.testing.assert_close(m.v_prob(h), torch.sigmoid(h @ m.W.t() + m.vb))
    g = torch.Generator().manual_seed(0)
    p, s = m.sample_h(v, g)
    assert set(s.unique().tolist()) <= {0.0, 1.0} and p.shape == s.shape


def test_recommend_ranks_only_unrated_movies_by_reconstruction():
    m = _rbm()
    v = torch.tensor([0.8, 0.0, 1.0, 0.0, 0.0, 0.4], dtype=torch.float64)
    idx, score = m.recommend(v, k=10)
    assert sorted(idx.tolist()) == [1, 3, 4]  # only the unrated ones, k capped at their number
    want = m.predict(v[None])[0] * 5
    assert torch.allclose(score, want[idx]) and (score[:-1] >= score[1:]).all()


def test_generated_source_defines_the_class_once():
    g = {"format": "convas-graph", "version": 1, "outputs": ["b"],
         "nodes": [{"id": "x", "op": "Input", "params": {"shape": [7]}},
                   {"id": "a", "op": "RBM", "params": {"hidden": 3}, "inputs": ["x"]},
                   {"id": "b", "op": "RBM", "params": {"hidden": 2, "visible_units": "softmax"}, "inputs": ["a"]}]}
    src = to_python(g)
    assert src.count("class RBM(nn.Module):") == 1 and "RBM(3, 2, softmax=True)" in src
    model = build_module(g)
    assert model(torch.rand(2, 7)).shape == (2, 2)
    assert sum(p.numel() for p in model.parameters()) == (7 * 3 + 7 + 3) + (15 * 2 + 15 + 2)
    # a node called RBM cannot shadow the class
    g["nodes"][1]["id"] = "RBM"
    g["nodes"][2]["inputs"] = ["RBM"]
    assert build_module(g)(torch.rand(1, 7)).shape == (1, 2)
