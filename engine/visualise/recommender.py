"""Looking inside a trained RBM recommender: a user's ratings and recommendations, what each hidden feature
learned (the movies it weighs most, with their genres), and the weight matrix.

`load_recommender(run_dir)` gives the trained RBM and the run's own ratings data (same source, seed and split as
training). A training user's vector is all their ratings; a test user's is the 80% the model saw, so their
recommendations can be checked against the held-out 20% (`held_out`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from engine.codegen import node_names
from engine.data import Data, load_data
from engine.shapes import check
from engine.train.rundir import RunDir
from engine.train.runs import load_trained

STARS = 5.0


@dataclass
class Recommender:
    rbm: torch.nn.Module
    data: Data

    @property
    def titles(self) -> list[str]:
        return self.data.classes

    @property
    def genres(self) -> list[str]:
        return self.data.info.get("genres") or [""] * len(self.titles)

    @property
    def movie_ids(self) -> list[int]:
        return self.data.info["movie_ids"]

    def users(self) -> list[tuple[int, str]]:
        """(userId, "test", "validation" or "train") for every user, held-out users first (their held-out ratings
        can be checked)."""
        info = self.data.info
        return ([(u, "test") for u in info.get("test_users", [])] + [(u, "validation") for u in info["val_users"]] +
                [(u, "train") for u in info["train_users"]])

    def _held_out_row(self, user_id: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(visible, held-out) of a validation or test user; None for a training user."""
        info, d = self.data.info, self.data
        if user_id in info.get("test_users", []):
            i = info["test_users"].index(user_id)
            return d.x_test[i], d.y_test[i]
        if user_id in info["val_users"]:
            i = info["val_users"].index(user_id)
            return d.x_val[i], d.y_val[i]
        return None

    def vector(self, user_id: int) -> torch.Tensor:
        """The ratings / 5 the model sees for this user (a held-out user's visible 80%)."""
        row = self._held_out_row(user_id)
        if row is not None:
            return row[0]
        info = self.data.info
        if user_id in info["train_users"]:
            return self.data.x_train[info["train_users"].index(user_id)]
        raise KeyError(f"no user {user_id} in {self.data.name}")

    def held_out(self, user_id: int) -> torch.Tensor | None:
        row = self._held_out_row(user_id)
        return None if row is None else row[1]

    def _movie(self, i: int, **extra) -> dict:
        return {"movie_id": self.movie_ids[i], "title": self.titles[i], "genres": self.genres[i], **extra}

    def rated(self, user_id: int) -> list[dict]:
        """The movies the model sees as rated by this user, best first: {movie_id, title, genres, stars}."""
        v = self.vector(user_id)
        idx = torch.nonzero(v > 0).flatten().tolist()
        rows = [self._movie(i, stars=round(float(v[i]) * STARS, 1)) for i in idx]
        return sorted(rows, key=lambda r: (-r["stars"], r["title"]))

    def recommend(self, user_id: int, k: int = 10) -> list[dict]:
        """The RBM's top-k unseen movies: {rank, movie_id, title, genres, score (predicted stars), held_out (the
        user's held-out rating of it, for test users, else None)}."""
        idx, score = self.rbm.recommend(self.vector(user_id), k)
        held = self.held_out(user_id)
        return [self._movie(i, rank=r + 1, score=float(s),
                            held_out=(round(float(held[i]) * STARS, 1) if held is not None and held[i] > 0 else None))
                for r, (i, s) in enumerate(zip(idx.tolist(), score.tolist()))]

    def weights(self) -> np.ndarray:
        """(hidden, movies): each feature's weight on each movie. Softmax units: the 5-star weight minus the
        1-star weight (how much the feature turns on when the movie is loved rather than hated)."""
        W = self.rbm.W.detach().float()
        if self.rbm.softmax:
            W3 = W.view(self.rbm.visible, self.rbm.levels, -1)
            W = W3[:, -1] - W3[:, 0]
        return W.t().cpu().numpy()

    def feature(self, unit: int, n: int = 10) -> list[dict]:
        """The n movies with the largest weights into hidden unit `unit`: {movie_id, title, genres, weight}."""
        w = self.weights()[unit]
        top = np.argsort(-w, kind="stable")[:n]
        return [self._movie(int(i), weight=float(w[i])) for i in top]


def load_recommender(run_dir: str | os.PathLike, which: str = "best") -> Recommender:
    """The trained RBM of a recommendation run and its data (the run's source, seed and split)."""
    run = RunDir(run_dir)
    g, model = load_trained(run_dir, which)
    report = check(g)
    rbm_id = next(n.id for n in g.nodes if n.op == "RBM")
    rbm = getattr(model, node_names(g, report)[rbm_id])
    cfg = run.config()
    shape = report.nodes[g.node(rbm_id).inputs[0]].shape
    data = load_data(cfg.data, cfg.data_root, input_shape=shape, val_fraction=cfg.val_fraction, seed=cfg.seed,
                     limit=cfg.limit)
    return Recommender(rbm, data)
