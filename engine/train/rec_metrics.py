"""Recommendation metrics on held-out ratings, and the baselines they are judged against.

All inputs are users × movies tensors of ratings / 5 with 0 where there is no rating:
- `train`: the training users' ratings (what baselines learn from);
- `visible`: each test user's ratings the model sees; `held`: their held-out ratings (the answers).

RMSE is over every held-out rating, in stars. The ranking metrics rank, for each test user, every movie they did
not rate in `visible`; a held-out movie rated >= 4 stars is relevant; users with no relevant held-out movie are
left out of the averages (nothing to find). precision@k = hits / k, recall@k = hits / relevant,
NDCG@k = DCG / ideal DCG with binary gains 1 / log2(rank + 1). Written with torch ops (a few lines: torchmetrics'
retrieval metrics work one query at a time and know nothing of the seen-movie exclusion; the tests compare these
with them).
"""
from __future__ import annotations

import math

import torch

STARS = 5.0
RELEVANT = 4.0  # stars
K = 10


def rmse(pred: torch.Tensor, held: torch.Tensor) -> float:
    """Root mean squared error in stars over the held-out ratings (pred and held are ratings / 5)."""
    m = held > 0
    if not m.any():
        return float("nan")
    return float(((pred[m] - held[m]) * STARS).pow(2).mean().sqrt())


def global_mean(train: torch.Tensor) -> torch.Tensor:
    """The mean of every training rating, as a (1, M) prediction."""
    return train[train > 0].mean().expand(1, train.shape[1])


def movie_mean(train: torch.Tensor) -> torch.Tensor:
    """Each movie's mean training rating, the global mean for a movie no training user rated: (1, M)."""
    rated = (train > 0).sum(0)
    mean = train.sum(0) / rated.clamp(min=1)
    return torch.where(rated > 0, mean, train[train > 0].mean()).unsqueeze(0)


def popularity(train: torch.Tensor) -> torch.Tensor:
    """The most-popular ranking score: how many training users rated each movie, (1, M)."""
    return (train > 0).sum(0, dtype=train.dtype).unsqueeze(0)


def ranking(scores: torch.Tensor, visible: torch.Tensor, held: torch.Tensor, k: int = K) -> dict:
    """precision@k, recall@k and NDCG@k (means over users with a relevant held-out movie) and that user count.
    `scores` (U, M) or (1, M) for one score shared by every user; seen movies are never recommended."""
    scores = scores.expand_as(visible).masked_fill(visible > 0, float("-inf"))
    relevant = held * STARS >= RELEVANT - 1e-4
    n_rel = relevant.sum(1)
    users = n_rel > 0
    if not users.any():
        return {f"precision@{k}": float("nan"), f"recall@{k}": float("nan"), f"ndcg@{k}": float("nan"), "users": 0}
    scores, relevant, n_rel = scores[users], relevant[users], n_rel[users]
    top = scores.topk(min(k, scores.shape[1]), dim=1).indices
    hit = relevant.gather(1, top).to(torch.float64)  # (U, k) 1 where the rank-r item is relevant
    disc = 1.0 / torch.log2(torch.arange(2, hit.shape[1] + 2, dtype=torch.float64, device=hit.device))
    dcg = (hit * disc).sum(1)
    ideal = torch.cumsum(disc, 0)[(n_rel.clamp(max=hit.shape[1]) - 1).clamp(min=0)]
    hits = hit.sum(1)
    return {f"precision@{k}": float((hits / k).mean()), f"recall@{k}": float((hits / n_rel).mean()),
            f"ndcg@{k}": float((dcg / ideal).mean()), "users": len(hits)}


def evaluate_recommender(pred: torch.Tensor, train: torch.Tensor, visible: torch.Tensor, held: torch.Tensor,
                         k: int = K) -> dict:
    """The model's held-out RMSE and ranking metrics beside the baselines': {"model": {...}, "global mean": {...},
    "movie mean": {...}, "most popular": {...}}; pred is the model's rating / 5 for every test user and movie."""
    out = {"model": {"rmse": rmse(pred, held), **ranking(pred, visible, held, k)}}
    gm, mm = global_mean(train), movie_mean(train)
    out["global mean"] = {"rmse": rmse(gm.expand_as(held), held)}
    out["movie mean"] = {"rmse": rmse(mm.expand_as(held), held), **ranking(mm, visible, held, k)}
    out["most popular"] = ranking(popularity(train), visible, held, k)
    for row in out.values():
        for key, v in row.items():
            if isinstance(v, float) and math.isnan(v):
                row[key] = None
    return out
