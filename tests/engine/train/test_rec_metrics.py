"""Held-out RMSE, the baselines and the ranking metrics on hand-made tables with answers worked out by hand, and
the ranking metrics against torchmetrics' retrieval metrics."""
from __future__ import annotations

import math

import pytest
import torch
from torchmetrics.functional.retrieval import retrieval_normalized_dcg, retrieval_precision, retrieval_recall

from engine.train import rec_metrics as M


def stars(rows):  # stars -> ratings / 5 as the data holds them
    return torch.tensor(rows, dtype=torch.float64) / 5


def test_rmse_and_the_mean_baselines_by_hand():
    train = stars([[4, 0, 2], [2, 0, 4], [3, 0, 0]])  # global mean 3; movie means 3, (none -> 3), 3
    held = stars([[5, 1, 0]])
    pred = stars([[4, 3, 2]])
    assert M.rmse(pred, held) == pytest.approx(math.sqrt((1 + 4) / 2))
    assert M.global_mean(train) * 5 == pytest.approx(torch.full((1, 3), 3.0, dtype=torch.float64))
    train2 = stars([[4, 0, 1], [2, 0, 4], [3, 0, 0]])  # movie 1: (4+2+3)/3 = 3, movie 3: 2.5, movie 2: global 14/5
    assert (M.movie_mean(train2) * 5).tolist()[0] == pytest.approx([3.0, 2.8, 2.5])
    assert M.popularity(train2).tolist() == [[3, 0, 2]]


def test_ranking_by_hand():
    # movies 0..5; the user saw movie 0; held out: movie 1 (5 stars), 2 (2 stars, not relevant), 4 (4 stars)
    visible = stars([[3, 0, 0, 0, 0, 0]])
    held = stars([[0, 5, 2, 0, 4, 0]])
    scores = torch.tensor([[9.0, 1.0, 8.0, 7.0, 6.0, 0.5]])  # movie 0 excluded: ranking 2, 3, 4, 1, 5
    r = M.ranking(scores, visible, held, k=3)
    # top 3 = [2, 3, 4]: one hit (movie 4, rank 3); 2 relevant
    assert r["precision@3"] == pytest.approx(1 / 3)
    assert r["recall@3"] == pytest.approx(1 / 2)
    assert r["ndcg@3"] == pytest.approx((1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert r["users"] == 1
    # a user with nothing relevant held out does not count
    r2 = M.ranking(scores.repeat(2, 1), torch.cat([visible, visible]), torch.cat([held, stars([[0, 2, 0, 0, 0, 0]])]),
                   k=3)
    assert r2["users"] == 1 and r2["ndcg@3"] == pytest.approx(r["ndcg@3"])


def test_ranking_agrees_with_torchmetrics():
    g = torch.Generator().manual_seed(0)
    U, N, k = 20, 40, 10
    visible = torch.where(torch.rand(U, N, generator=g) < 0.3, torch.randint(1, 11, (U, N), generator=g) / 10, 0.0)
    held = torch.where((visible == 0) & (torch.rand(U, N, generator=g) < 0.2),
                       torch.randint(1, 11, (U, N), generator=g) / 10, 0.0)
    scores = torch.rand(U, N, generator=g)
    got = M.ranking(scores, visible, held, k=k)
    p, r, n = [], [], []
    for u in range(U):
        cand = visible[u] == 0
        target = held[u][cand] * 5 >= 4
        if not target.any():
            continue
        s = scores[u][cand]
        p.append(retrieval_precision(s, target, top_k=k))
        r.append(retrieval_recall(s, target, top_k=k))
        n.append(retrieval_normalized_dcg(s, target.long(), top_k=k))
    assert got["users"] == len(p)
    assert got[f"precision@{k}"] == pytest.approx(float(torch.stack(p).mean()))
    assert got[f"recall@{k}"] == pytest.approx(float(torch.stack(r).mean()))
    assert got[f"ndcg@{k}"] == pytest.approx(float(torch.stack(n).mean()))


def test_evaluate_recommender_lays_out_model_and_baselines():
    train = stars([[4, 0, 2, 5], [2, 1, 4, 5], [3, 0, 0, 4]])
    visible, held = stars([[4, 0, 0, 0]]), stars([[0, 0, 1, 5]])
    out = M.evaluate_recommender(stars([[4, 1, 1, 5]]), train, visible, held, k=2)
    assert out["model"]["rmse"] == pytest.approx(0.0) and out["model"]["ndcg@2"] == pytest.approx(1.0)
    assert out["most popular"]["precision@2"] == pytest.approx(0.5)  # popularity: movie 3 (3 ratings), then 2
    assert set(out["global mean"]) == {"rmse"}
