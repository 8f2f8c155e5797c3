"""Inspect for language models: next words, generation, surprise and neighbours against torch by hand."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.codegen import build_module
from engine.data.text import EOS, UNK
from engine.visualise.text import generate, neighbours, next_words, surprise, words_to_ids
from tests.engine.lm.graphs import lm_graph

VOCAB = ["the", UNK, EOS, "cat", "sat", "on", "mat", "dog", "ran", "a"]


@pytest.fixture(params=[True, False], ids=["stateful", "stateless"])
def model(request):
    torch.manual_seed(0)
    return build_module(lm_graph(V=len(VOCAB), T=6, H=8, stateful=request.param)).eval()


def full(model, ids):
    """Scores at every position from a fresh state, the whole sequence at once."""
    if hasattr(model, "reset_state"):
        model.reset_state()
    with torch.no_grad():
        return model(torch.tensor([ids]))[0]


def test_words_become_ids_and_unknown_words_unk():
    ids, unknown = words_to_ids("The cat sat\non zebras", VOCAB)
    assert ids == [0, 3, 4, 2, 5, 1] and unknown == ["zebras"]


def test_next_words_are_the_softmax_top_k(model):
    got = next_words(model, VOCAB, "the cat", k=4)
    probs = full(model, [2, 0, 3])[-1].softmax(-1)  # after <eos> the cat
    p, i = probs.topk(4)
    assert [w for w, _ in got] == [VOCAB[j] for j in i.tolist()]
    assert [q for _, q in got] == pytest.approx(p.tolist(), rel=1e-5)
    assert next_words(model, VOCAB, "the cat", k=4) == got  # no state left behind


def test_surprise_is_the_per_word_cross_entropy(model):
    got = surprise(model, VOCAB, "the cat sat on the mat")
    ids = [2, 0, 3, 4, 5, 0, 6]
    want = F.cross_entropy(full(model, ids[:-1]), torch.tensor(ids[1:]), reduction="none")
    assert [w for w, _ in got] == ["the", "cat", "sat", "on", "the", "mat"]
    assert [s for _, s in got] == pytest.approx(want.tolist(), rel=1e-5)


def test_greedy_generation_follows_the_argmax_and_sampling_is_seeded(model):
    got = generate(model, VOCAB, "the dog", words=8, top_k=1)
    ctx = [2, 0, 7]
    for _ in range(8):  # by hand: re-read the whole context, take the most likely word
        ctx.append(int(full(model, ctx[-6:] if not hasattr(model, "reset_state") else ctx)[-1].argmax()))
    assert got == [VOCAB[i] for i in ctx[3:]]
    a = generate(model, VOCAB, "the dog", words=12, temperature=1.5, top_k=None, seed=4)
    assert a == generate(model, VOCAB, "the dog", words=12, temperature=1.5, top_k=None, seed=4)
    assert len(a) == 12 and set(a) <= set(VOCAB)
    with pytest.raises(ValueError, match="temperature must be positive"):
        generate(model, VOCAB, "the", temperature=0)


def test_neighbours_by_cosine_similarity(model):
    got = neighbours(model, VOCAB, "cat", k=3)
    w = model.embed.weight.detach()
    sims = [(F.cosine_similarity(w[3], w[j], dim=0).item(), VOCAB[j]) for j in range(len(VOCAB)) if j != 3]
    want = sorted(sims, reverse=True)[:3]
    assert [x for x, _ in got] == [v for _, v in want]
    assert [s for _, s in got] == pytest.approx([s for s, _ in want], rel=1e-5)
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        neighbours(model, VOCAB, "zebra")
