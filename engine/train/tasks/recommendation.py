"""Task `recommendation`: an RBM over users' ratings, trained by contrastive divergence instead of backpropagation.

The graph is Input(movies) → RBM(hidden). One step, on a batch of training users' vectors v₀ (ratings / 5):
CD-k (`cd_k`, 1 by default) or persistent CD (`persistent_cd`) estimates the log-likelihood gradient
(RBM.contrastive_divergence: h₀ sampled from the data, k Gibbs steps, ⟨v₀h₀⟩ − ⟨v_k h_k⟩ over the batch) and
every parameter moves by velocity = momentum · velocity + lr · (gradient − weight_decay · W); with the seed's
momentum 0 that is W += α(⟨v₀h₀⟩ − ⟨v₁h₁⟩)/batch, vb += α·mean(v₀ − v₁), hb += α·mean(h₀ − h₁).

Curves: `train_loss` is the reconstruction error mean((v − v̂)²) of each step's batch, v̂ the mean-field
reconstruction (p(h | v), then the visible expectation) just after the update; each validation writes `val_loss`
(the same error on the held-out users' full vectors), `free_energy_gap` (mean free
energy of held-out users minus that of as many training users: Hinton's overfitting monitor, a widening gap means
overfitting), `val_rmse` (stars, on the held-out 20%) and `val_ndcg` (NDCG@10 of the held-out movies rated >= 4);
the best weights are those with the highest val_ndcg.
Runs, stop/resume, checkpoints and exact resume are Run's (engine.train.loop); the results are the held-out RMSE
and ranking metrics beside their baselines (engine.train.rec_metrics).
"""
from __future__ import annotations

import torch

from engine.codegen import build_module, node_names
from engine.data import load_data
from engine.shapes import check
from engine.train.checks import TrainError, resolve_device
from engine.train.evaluate import selection_fields
from engine.train.loop import Run
from engine.train.optim import lr_factor
from engine.train.rec_metrics import K, evaluate_recommender, ranking, rmse

# The seed tutorial's settings: 20 hidden units (the template), α = 1.0, batch 100, 15 epochs, plain CD-1.
SEED_SETTINGS = {"data": "movielens-sample", "epochs": 15, "batch_size": 100, "optimizer": "sgd", "lr": 1.0,
                 "momentum": 0.0, "weight_decay": 0.0, "schedule": "constant", "cd_k": 1, "persistent_cd": False}


def recon_error(rbm, v: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """The seed's mean squared reconstruction error over every movie (binary units); over the rated movies only
    for softmax units (an unrated movie has no unit to reconstruct)."""
    if not rbm.softmax:
        return (v - recon).pow(2).mean()
    m = v > 0
    return (v - recon).pow(2)[m].mean() if m.any() else v.new_zeros(())


class RecommendationRun(Run):
    """Contrastive divergence on an Input → RBM graph (see the module docstring)."""

    def setup(self) -> None:
        cfg = self.cfg
        self.device = dev = resolve_device(cfg.device)
        self.amp = None
        self.status("running", f"loading {cfg.data}")
        report = check(self.g)
        if not report.ok:
            raise TrainError("the design has problems: " + " ".join(str(e) for e in report.errors[:5]))
        rbm_id = self._rbm_node(report)
        inp = self.g.node(rbm_id).inputs[0]
        data = load_data(cfg.data, cfg.data_root, input_shape=report.nodes[inp].shape,
                         val_fraction=cfg.val_fraction, seed=cfg.seed, limit=cfg.limit)
        if data.task != "recommendation":
            raise TrainError(f"task recommendation trains on ratings, but {cfg.data!r} holds images. Choose "
                             f"movielens-sample, movielens-small, or a ratings.csv (userId, movieId, rating).")
        self.data = data.to(dev)
        self.K = data.num_classes
        self.squeeze = self.channels_last = False
        torch.manual_seed(cfg.seed)  # the weights draw from here
        self.model = build_module(self.g).to(dev)
        self.rbm = getattr(self.model, node_names(self.g, report)[rbm_id])
        if cfg.persistent_cd and self.rbm.softmax:
            raise TrainError("persistent_cd needs binary visible units: a softmax RBM has units only for the movies "
                             "each user rated, so one chain cannot stand for every user. Turn persistent_cd off or "
                             "set the RBM's visible_units to binary.")
        self.params = [self.rbm.W, self.rbm.vb, self.rbm.hb]
        self.vel = [torch.zeros_like(p) for p in self.params]
        N, bs = len(self.data.x_train), cfg.batch_size
        self.spe = -(-N // bs)
        if bs > N:
            raise TrainError(f"batch_size {bs} is larger than the training set ({N} users). Use a batch size of at "
                             f"most {N}.")
        self.planned = cfg.epochs * self.spe if cfg.max_steps is None else min(cfg.epochs * self.spe,
                                                                                  cfg.max_steps)
        self.gen = torch.Generator(device=dev).manual_seed(cfg.seed)  # every Gibbs sample
        self.perm_gen = torch.Generator(device=dev)
        self.chain = torch.zeros(bs, self.rbm.hidden, device=dev) if cfg.persistent_cd else None
        n_val = len(self.data.x_val)
        pick = torch.randperm(N, generator=torch.Generator().manual_seed(cfg.seed))[:n_val]
        self.fe_train = self.data.x_train[pick.to(dev)]  # as many training users as held-out ones (free energy)
        self.full_val = self.data.x_val + self.data.y_val
        self.start_progress()  # ep_sums: error*n, -, users, -, seconds of the current epoch

    def _rbm_node(self, report) -> str:
        rbms = [n for n in self.g.nodes if n.op == "RBM"]
        if len(rbms) != 1:
            raise TrainError(f"task recommendation trains one RBM by contrastive divergence; this design has "
                             f"{len(rbms)}. Build Input(movies) → RBM(hidden) (the 'RBM recommender' template).")
        n = rbms[0]
        if self.g.node(n.inputs[0]).op != "Input":
            raise TrainError(f"the RBM '{n.id}' must read the Input directly (one vector of ratings per user); it "
                             f"reads '{n.inputs[0]}'. Connect it to the Input.")
        others = [m.id for m in self.g.nodes if m.id != n.id and report.nodes[m.id].params]
        if others:
            raise TrainError(f"contrastive divergence trains only the RBM; the layers {', '.join(others)} have "
                             f"weights it would leave untrained. Remove them, or train them in a classification "
                             f"design fed by the trained RBM.")
        return n.id

    # ---- state --------------------------------------------------------------------------------------------
    def optimiser_state(self) -> dict:
        """CD's own optimiser: the velocities and the persistent chain (Run.checkpoint_state keeps the rest)."""
        return {"velocity": [v.cpu() for v in self.vel], "chain": None if self.chain is None else self.chain.cpu()}

    def load_optimiser_state(self, st: dict) -> None:
        self.vel = [v.to(self.device) for v in st["velocity"]]
        self.chain = None if st["chain"] is None else st["chain"].to(self.device)

    # ---- one step -----------------------------------------------------------------------------------------
    def train_step(self, idx: torch.Tensor) -> None:
        cfg, rbm = self.cfg, self.rbm
        v0 = self.data.x_train[idx]
        n = len(v0)
        chain = None
        if self.chain is not None:
            if self.step == 0:  # the persistent chain starts from the first batch's hidden sample
                self.chain[:n] = rbm.sample_h(v0, self.gen)[1]
            chain = self.chain[:n]
        dW, dvb, dhb, _, h = rbm.contrastive_divergence(v0, cfg.cd_k, self.gen, chain)
        if self.chain is not None:
            self.chain[:n] = h
        self.lr = cfg.lr * lr_factor(cfg.schedule, self.step, self.planned)
        grads = (dW - cfg.weight_decay * rbm.W.detach(), dvb, dhb)
        with torch.no_grad():
            for p, g, v in zip(self.params, grads, self.vel):
                v.mul_(cfg.momentum).add_(g, alpha=self.lr)
                p.add_(v)
        self.step += 1
        self.epoch_step += 1
        err = recon_error(rbm, v0, rbm.predict(v0))  # mean field, as val_loss: the two curves compare
        first_bad = ~torch.isfinite(err) & (self.bad_step < 0)
        self.bad_step = torch.where(first_bad, self.step, self.bad_step)
        self.bad_loss = torch.where(first_bad, err, self.bad_loss)
        self.w[0] += err * n
        self.w[2] += n

    def watch_loss(self, row: dict) -> None:
        """No divergence warning: contrastive divergence is not the gradient of a loss, so a rising
        reconstruction error is no sign of a diverged step (a NaN still stops the run: check_finite)."""

    def check_finite(self, bad_step: int, bad_loss: float) -> None:
        if bad_step >= 0:
            raise TrainError(f"the reconstruction error became {bad_loss} at step {bad_step}; try a lower learning "
                             f"rate (now {self.cfg.lr:g}), less momentum (now {self.cfg.momentum:g}) or weight decay.")

    # ---- validation ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, keep: bool = False) -> dict:
        rbm = self.rbm
        full = self.full_val
        gap = rbm.free_energy(full).mean() - rbm.free_energy(self.fe_train).mean()
        err = recon_error(rbm, full, rbm.predict(full))
        pred = rbm.predict(self.data.x_val)
        ndcg = ranking(pred, self.data.x_val, self.data.y_val)[f"ndcg@{K}"]
        return {"val_loss": float(err), "free_energy_gap": float(gap), "val_rmse": rmse(pred, self.data.y_val),
                "val_ndcg": ndcg, "pred": pred if keep else None}

    def val_fields(self, ev: dict) -> dict:
        return {k: ev[k] for k in ("val_loss", "free_energy_gap", "val_rmse", "val_ndcg")}

    def score(self, ev: dict) -> tuple[str, float]:
        """The best weights rank the held-out movies best (NDCG@10): a recommender's job is its top ten."""
        v = ev["val_ndcg"]
        return f"NDCG@{K}", -1.0 if v != v else v  # NaN (no relevant held-out movie): never better

    def epoch_summary(self, ev: dict) -> tuple[str, dict]:
        return (f"reconstruction error {ev['val_loss']:.4f}, held-out RMSE {ev['val_rmse']:.3f} stars, NDCG@10 "
                f"{ev['val_ndcg']:.3f}, free-energy gap {ev['free_energy_gap']:.2f}", {})

    def best_status(self) -> dict:
        return {}  # the recommender's status.json names no best figure (the run pickers show none for it)

    def finish(self) -> None:
        self.status("running", "computing the results")
        which, meta = self.chosen_weights()
        selected_on = self.data.val_name
        self.data = self.data.test_view()  # the test users, measured once, now, on the weights validation chose
        res = write_recommendation_results(self.dir, self.rbm, self.data, weights=which, epoch=meta.get("epoch"),
                                           extra=selection_fields(self.data, selected_on, meta))
        m = res["metrics"]["model"]
        self.status("finished", say=True, message=f"finished: held-out RMSE {m['rmse']:.3f} stars (movie mean "
                    f"{res['metrics']['movie mean']['rmse']:.3f}), NDCG@10 {m['ndcg@10'] or 0:.3f} ({which} weights, "
                    f"epoch {meta.get('epoch')}) after {self.step} steps in {self.now():.0f} s.")


@torch.no_grad()
def write_recommendation_results(run, rbm, data, *, weights: str, epoch, extra: dict | None = None) -> dict:
    """results.json through RunDir: the held-out metrics beside the baselines' (of data's x_val/y_val: the test
    users at the end of a run), with `extra` fields (which split chose the weights)."""
    pred = rbm.predict(data.x_val)
    metrics = evaluate_recommender(pred, data.x_train, data.x_val, data.y_val)
    full = data.x_val + data.y_val
    res = {"task": "recommendation", "data": data.name, "split": data.val_name, "weights": weights, "epoch": epoch,
           "n": len(data.x_val), "held_out": int((data.y_val > 0).sum()), "movies": data.input_shape[0],
           "train_users": len(data.x_train), "hidden": rbm.hidden,
           "visible_units": "softmax" if rbm.softmax else "binary", "k": 10,
           "loss": float(recon_error(rbm, full, rbm.predict(full))), "metrics": metrics, **(extra or {})}
    run.write_results(res, {})
    return res
