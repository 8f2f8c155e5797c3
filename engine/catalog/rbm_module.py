"""The RBM module exactly as exported: its source is copied into every generated file that uses the op
(engine.catalog.rbm registers it as the op's `module_source`), so the app, the trainer and the bundle run one class.

Only `torch`, `nn` and `F` may be used here: they are the names a generated file imports.
"""
import torch
import torch.nn.functional as F
from torch import nn


class RBM(nn.Module):
    """Restricted Boltzmann machine over one user's ratings (stars / 5, 0 = not rated), Bernoulli hidden units.

    Binary visible units (the seed tutorial): v in [0, 1] per movie is the probability of a visible unit, and
    every movie is a unit, rated or not. Softmax visible units (Salakhutdinov, Mnih & Hinton 2007): each rated
    movie is a 1-of-`levels` unit for its star level; an unrated movie is left out of the energy. The forward pass
    returns the hidden probabilities p(h = 1 | v), so a trained RBM can feed other layers.
    """

    def __init__(self, visible: int, hidden: int, softmax: bool = False, levels: int = 5):
        super().__init__()
        self.visible, self.hidden, self.softmax, self.levels = visible, hidden, softmax, levels
        n = visible * levels if softmax else visible
        self.W = nn.Parameter(torch.randn(n, hidden) * 0.01)  # Hinton's practical guide: N(0, 0.01²)
        self.vb = nn.Parameter(torch.zeros(n))
        self.hb = nn.Parameter(torch.zeros(hidden))

    # ---- the visible layer as the energy sees it ----------------------------------------------------------
    def encode(self, v: torch.Tensor) -> torch.Tensor:
        """Ratings / 5 -> the visible units: v itself (binary), or one-hot star levels, zeros where not rated."""
        if not self.softmax:
            return v
        level = torch.ceil(v * self.levels - 1e-4).clamp(0, self.levels).long()  # 0.5-1 star -> 1, 4.5-5 -> 5
        onehot = F.one_hot(level, self.levels + 1)[..., 1:].to(v.dtype)  # level 0 (not rated) -> all zeros
        return onehot.flatten(-2)

    def mask(self, v: torch.Tensor) -> torch.Tensor:
        """1 where the user rated the movie (softmax units exist only there)."""
        return (v > 0).to(v.dtype)

    # ---- conditionals, sampling, energy -------------------------------------------------------------------
    def h_prob(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.encode(v) @ self.W + self.hb)

    def sample_h(self, v: torch.Tensor, generator: torch.Generator | None = None):
        """(p(h | v), a Bernoulli sample of h)."""
        p = self.h_prob(v)
        return p, (torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype) < p).to(p.dtype)

    def v_prob(self, h: torch.Tensor) -> torch.Tensor:
        """Binary: p(v = 1 | h), (B, M). Softmax: p(level | h) per movie, (B, M, levels)."""
        act = h @ self.W.t() + self.vb
        if not self.softmax:
            return torch.sigmoid(act)
        return act.view(*act.shape[:-1], self.visible, self.levels).softmax(-1)

    def sample_v(self, h: torch.Tensor, generator: torch.Generator | None = None, mask: torch.Tensor | None = None):
        """(the reconstruction as ratings / 5 in expectation, a sample of the visible units in `encode`'s form).
        With softmax units only the movies in `mask` (the user's rated ones) are sampled."""
        p = self.v_prob(h)
        u = torch.rand(p.shape[:-1] if self.softmax else p.shape, generator=generator, device=p.device,
                       dtype=p.dtype)
        if not self.softmax:
            return p, (u < p).to(p.dtype)
        level = (p.cumsum(-1) < u.unsqueeze(-1)).sum(-1).clamp(max=self.levels - 1)  # inverse-CDF draw per movie
        onehot = F.one_hot(level, self.levels).to(p.dtype)
        if mask is not None:
            onehot = onehot * mask.unsqueeze(-1)
        return self.expected(p), onehot.flatten(-2)

    def expected(self, p: torch.Tensor) -> torch.Tensor:
        """Softmax probabilities (B, M, levels) -> the expected rating / 5 per movie."""
        stars = torch.arange(1, self.levels + 1, device=p.device, dtype=p.dtype) / self.levels
        return p @ stars

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -vᵀb_v - Σ_j log(1 + exp(vᵀW_j + b_h,j)) per user (B,); lower is more probable."""
        x = self.encode(v)
        return -(x @ self.vb) - F.softplus(x @ self.W + self.hb).sum(-1)

    def free_energy_units(self, x: torch.Tensor) -> torch.Tensor:
        """F of visible units already in encode's form (a softmax chain's one-hot sample)."""
        return -(x @ self.vb) - F.softplus(x @ self.W + self.hb).sum(-1)

    # ---- use ----------------------------------------------------------------------------------------------
    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.h_prob(v)

    def predict(self, v: torch.Tensor) -> torch.Tensor:
        """The reconstructed rating / 5 of every movie (mean field: p(h | v), then the visible expectation)."""
        p = self.v_prob(self.h_prob(v))
        return self.expected(p) if self.softmax else p

    @torch.no_grad()
    def recommend(self, user_vector: torch.Tensor, k: int = 10):
        """The k unrated movies with the highest reconstructed score: (movie indices, scores in stars)."""
        v = user_vector.reshape(1, -1).to(self.W.dtype)
        score = self.predict(v)[0] * self.levels
        score = score.masked_fill(v[0] > 0, float("-inf"))
        k = min(k, int((v[0] == 0).sum()))
        top = score.topk(k)
        return top.indices, top.values

    # ---- learning -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def contrastive_divergence(self, v0: torch.Tensor, k: int = 1, generator: torch.Generator | None = None,
                               chain: torch.Tensor | None = None):
        """The CD-k (or, given a persistent `chain` of hidden states, PCD-k) estimate of the log-likelihood
        gradient for a batch, as the seed computes it: h0 sampled from the data; k Gibbs steps; then
        ΔW = (v0ᵀh0 - vkᵀp(h|vk)) / batch, Δb_v = mean(v0 - vk), Δb_h = mean(h0 - p(h|vk)).

        Returns (dW, dvb, dhb, the reconstruction as ratings / 5, the chain's new hidden state)."""
        x0 = self.encode(v0)
        mask = self.mask(v0) if self.softmax else None
        _, h0 = self.sample_h(v0, generator)
        h = h0 if chain is None else chain
        for step in range(k):
            recon, xk = self.sample_v(h, generator, mask)
            hk = torch.sigmoid(xk @ self.W + self.hb)
            if step < k - 1 or chain is not None:
                h = (torch.rand(hk.shape, generator=generator, device=hk.device, dtype=hk.dtype) < hk).to(hk.dtype)
        n = v0.shape[0]
        dW = (x0.t() @ h0 - xk.t() @ hk) / n
        return dW, (x0 - xk).mean(0), (h0 - hk).mean(0), (recon if self.softmax else xk), h
