"""RBM recommenders on MovieLens-small: the seed's binary RBM and the softmax-visible RBM (Salakhutdinov, Mnih &
Hinton 2007), each trained by CD-1 through the app's own trainer, judged on the held-out 20% of each test user's
ratings against baselines computed in the same run on the same split:

- held-out RMSE (stars) against the global-mean and movie-mean predictors;
- precision@10, recall@10 and NDCG@10 (relevant = a held-out rating >= 4) against the most-popular ranking.

Prints one table with the training time of each model. Targets (issue 11): both RBMs beat the movie-mean RMSE;
the softmax RBM beats the most-popular NDCG@10. Asserts nothing.

    python benchmarks/train_rbm.py [--movies 2000] [--epochs-binary 15] [--epochs-softmax 20] [--hidden-softmax 50]
        [--lr-softmax 1.0] [--wd-softmax 0] [--data-root DIR_WITH_ml-latest-small.zip] [--val-fraction 0.1] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.train.tasks import TASK_DEFAULTS  # noqa: E402
from engine.train.trainer import train  # noqa: E402


def graph(movies: int, hidden: int, units: str) -> dict:
    return {"format": "convas-graph", "version": 1, "name": f"{units} RBM", "outputs": ["rbm"],
            "task": {"kind": "recommendation", "num_classes": 10},
            "nodes": [{"id": "movies", "op": "Input", "params": {"shape": [movies]}},
                      {"id": "rbm", "op": "RBM", "params": {"hidden": hidden, "visible_units": units},
                       "inputs": ["movies"]}]}


def run(name: str, g: dict, cfg: dict, where: Path) -> tuple[dict, float]:
    t = time.perf_counter()
    out = train(g, cfg, where / name)
    took = time.perf_counter() - t
    status = json.loads((out / "status.json").read_text())
    if status["state"] != "finished":
        raise SystemExit(f"{name}: {status['message']}")
    return json.loads((out / "results.json").read_text()), took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--movies", type=int, default=2000, help="the most-rated movies kept (9724: all rated ones)")
    ap.add_argument("--hidden-binary", type=int, default=20)
    ap.add_argument("--hidden-softmax", type=int, default=50)
    ap.add_argument("--epochs-binary", type=int, default=15)
    ap.add_argument("--epochs-softmax", type=int, default=20)
    ap.add_argument("--lr-softmax", type=float, default=1.0)
    ap.add_argument("--wd-softmax", type=float, default=0.0, help="weight decay of the softmax RBM")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    base = {**TASK_DEFAULTS["recommendation"], "data": "movielens-small", "data_root": a.data_root,
            "val_fraction": a.val_fraction, "seed": a.seed, "log_every": 10, "device": "cpu"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        res_b, t_b = run("binary", graph(a.movies, a.hidden_binary, "binary"),
                         {**base, "epochs": a.epochs_binary}, where)
        res_s, t_s = run("softmax", graph(a.movies, a.hidden_softmax, "softmax"),
                         {**base, "epochs": a.epochs_softmax, "lr": a.lr_softmax,
                          "weight_decay": a.wd_softmax}, where)
    m = res_b["metrics"]
    rows.append((f"binary RBM (seed: {a.hidden_binary} hidden, CD-1, α=1, {a.epochs_binary} ep)", res_b["metrics"]["model"], t_b))
    rows.append((f"softmax RBM ({a.hidden_softmax} hidden, CD-1, α={a.lr_softmax:g}, {a.epochs_softmax} ep)",
                 res_s["metrics"]["model"], t_s))
    rows += [("global mean", m["global mean"], None), ("movie mean", m["movie mean"], None),
             ("most popular", m["most popular"], None)]
    print(f"MovieLens-small, {a.movies} most-rated movies, {res_b['train_users']} training users, {res_b['n']} test "
          f"users, {res_b['held_out']} held-out ratings (seed {a.seed})\n")
    head = f"{'model':58s} {'RMSE':>7s} {'P@10':>7s} {'R@10':>7s} {'NDCG@10':>8s} {'time':>8s}"
    print(head)
    print("-" * len(head))
    fmt = lambda v, w=7: f"{v:{w}.4f}" if isinstance(v, float) else f"{'–':>{w}s}"
    for name, r, t in rows:
        print(f"{name:58s} {fmt(r.get('rmse'))} {fmt(r.get('precision@10'))} {fmt(r.get('recall@10'))} "
              f"{fmt(r.get('ndcg@10'), 8)} {(f'{t:7.1f}s' if t else '–'):>8s}")
    mm, pop = m["movie mean"]["rmse"], m["most popular"]["ndcg@10"]
    print()
    for name, res in (("binary", res_b), ("softmax", res_s)):
        r = res["metrics"]["model"]
        print(f"{name:8s} RMSE / movie-mean RMSE = {r['rmse'] / mm:.3f} ({'beats' if r['rmse'] < mm else 'misses'} "
              f"the target); NDCG@10 / most-popular = {r['ndcg@10'] / pop:.3f} "
              f"({'beats' if r['ndcg@10'] > pop else 'below'} most-popular); recall@10 / most-popular = "
              f"{r['recall@10'] / m['most popular']['recall@10']:.3f}")


if __name__ == "__main__":
    main()
