"""What a recommender's bundle adds to sample.safetensors: the app's top-10 recommendations for each sample user
(movie indices and predicted stars, from the RBM's own `recommend`), which the bundle's test_model.py reproduces."""
from __future__ import annotations

import torch

K = 10


@torch.no_grad()
def recommendation_tensors(model: torch.nn.Module, users: torch.Tensor, k: int = K) -> dict[str, torch.Tensor]:
    rbm = next(m for m in model.modules() if hasattr(m, "recommend"))
    k = min(k, int((users == 0).sum(1).min()))
    idx, score = zip(*(rbm.recommend(v, k) for v in users))
    return {"recommend_index": torch.stack(idx).contiguous(), "recommend_score": torch.stack(score).contiguous()}
