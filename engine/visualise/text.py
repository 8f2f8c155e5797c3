"""What Inspect shows for a language model: sampled text, the next-word distribution, per-word surprise and
embedding neighbours. Pure functions of (model, vocabulary, text); the page only draws them.

A prompt is split into words like the training text (engine.data.text.tokenize, without the final `<eos>`); a
word outside the vocabulary reads as `<unk>`. Every function starts the model from a fresh state and leaves it in
eval mode with a fresh state. A stateful model reads the prompt once and then one word at a time (its state
carries the context); a stateless one re-reads the last T words (its Input's length) for every prediction.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.data.text import EOS, UNK

__all__ = ["generate", "neighbours", "next_words", "surprise", "words_to_ids"]


def words_to_ids(text: str, vocab: list[str]) -> tuple[list[int], list[str]]:
    """(token ids, the words that were not in the vocabulary). Lines end with `<eos>` except the last."""
    index = {w: i for i, w in enumerate(vocab)}
    unk = index.get(UNK)
    ids, unknown = [], []
    lines = text.strip().splitlines() or [""]
    for n, line in enumerate(lines):
        for w in line.split() + ([EOS] if n < len(lines) - 1 else []):
            i = index.get(w, index.get(w.lower()))
            if i is None:
                unknown.append(w)
                if unk is None:
                    raise ValueError(f"'{w}' is not in the model's vocabulary (which has no {UNK}). Use words it "
                                     f"was trained on.")
                i = unk
            ids.append(i)
    return ids, unknown


def _fresh(model: nn.Module) -> None:
    model.eval()
    if hasattr(model, "reset_state"):
        model.reset_state()


def _stateful(model: nn.Module) -> bool:
    return hasattr(model, "reset_state")


def _start(ids: list[int], vocab: list[str]) -> list[int]:
    """The context a prediction starts from: after an `<eos>` (a sentence start), as in the training text."""
    return ([vocab.index(EOS)] if EOS in vocab else []) + ids


@torch.no_grad()
def _logits_after(model: nn.Module, ids: list[int], steps: int) -> torch.Tensor:
    """Scores (V,) for the word after `ids`: a stateful model reads them all; a stateless one the last `steps`."""
    ctx = ids if _stateful(model) else ids[-steps:]
    return model(torch.tensor([ctx], dtype=torch.int64))[0, -1].float()


def next_words(model: nn.Module, vocab: list[str], text: str, k: int = 10, steps: int = 35) -> list[tuple[str, float]]:
    """The k most likely next words after `text` with their probabilities, most likely first."""
    ids, _ = words_to_ids(text, vocab)
    _fresh(model)
    probs = _logits_after(model, _start(ids, vocab), steps).softmax(-1)
    _fresh(model)
    p, i = probs.topk(min(k, len(vocab)))
    return [(vocab[j], float(q)) for q, j in zip(p.tolist(), i.tolist())]


@torch.no_grad()
def generate(model: nn.Module, vocab: list[str], prompt: str, words: int = 30, temperature: float = 1.0,
             top_k: int | None = 40, seed: int = 0, steps: int = 35) -> list[str]:
    """`words` words sampled after the prompt, each from softmax(scores / temperature) over the top_k words
    (all words when top_k is None or 0); the same seed gives the same text."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive. Received: temperature={temperature}.")
    ids, _ = words_to_ids(prompt, vocab)
    ctx = _start(ids, vocab)
    gen = torch.Generator().manual_seed(seed)
    _fresh(model)
    out: list[str] = []
    feed = ctx  # a stateful model is fed only the new word after the first call
    for _ in range(words):
        if _stateful(model):
            logits = model(torch.tensor([feed], dtype=torch.int64))[0, -1].float()
        else:
            logits = _logits_after(model, ctx, steps)
        logits = logits / temperature
        if top_k:
            kth = logits.topk(min(top_k, logits.numel())).values[-1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        nxt = int(torch.multinomial(logits.softmax(-1), 1, generator=gen))
        out.append(vocab[nxt])
        ctx = ctx + [nxt]
        feed = [nxt]
    _fresh(model)
    return out


@torch.no_grad()
def surprise(model: nn.Module, vocab: list[str], text: str, steps: int = 35) -> list[tuple[str, float]]:
    """Each word of `text` with the model's loss on it, −ln p(word | the words before it) in nats; a word outside
    the vocabulary is shown as `<unk>`, scored as such."""
    ids, _ = words_to_ids(text, vocab)
    if not ids:
        return []
    ctx = _start(ids, vocab)
    _fresh(model)
    if _stateful(model) or len(ctx) - 1 <= steps:
        logits = model(torch.tensor([ctx[:-1]], dtype=torch.int64))[0].float()
    else:  # a stateless model sees at most its T words: score each word from the window that ends before it
        logits = torch.stack([_logits_after(model, ctx[:i + 1], steps) for i in range(len(ctx) - 1)])
    _fresh(model)
    target = torch.tensor(ctx[1:], dtype=torch.int64)
    losses = F.cross_entropy(logits, target, reduction="none")
    return [(vocab[t], float(loss)) for t, loss in zip(target.tolist(), losses.tolist())]


def embedding_of(model: nn.Module) -> nn.Embedding:
    emb = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
    if emb is None:
        raise ValueError("the model has no Embedding layer, so its words have no vectors to compare.")
    return emb


@torch.no_grad()
def neighbours(model: nn.Module, vocab: list[str], word: str, k: int = 10) -> list[tuple[str, float]]:
    """The k words whose embedding vectors are closest to `word`'s by cosine similarity, closest first."""
    index = {w: i for i, w in enumerate(vocab)}
    i = index.get(word, index.get(word.lower()))
    if i is None:
        raise ValueError(f"'{word}' is not in the model's vocabulary ({len(vocab):,} words).")
    w = embedding_of(model).weight.float()
    sims = F.cosine_similarity(w[i:i + 1], w, dim=1)
    sims[i] = -2.0  # not itself
    top = sims.topk(min(k, len(vocab) - 1))
    return [(vocab[j], float(s)) for s, j in zip(top.values.tolist(), top.indices.tolist())]
