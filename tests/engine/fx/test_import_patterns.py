"""Constructs our exported templates use, read back from a user's own hand-written modules too: a max pool of a
−inf-padded input (TensorFlow's 'same'), token ids and a recurrent state kept between calls (a language model), and
a restricted Boltzmann machine's sigmoid(v @ W + hb). torch is the oracle: the imported graph, compiled and given
the source's weights, computes what the source computes."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import engine
from engine.fx.importer import ImportModelError, import_model, map_state_dict


def params(g, op: str) -> list[dict]:
    r = engine.check(g)
    return [r.normalised[n.id] for n in g.nodes if n.op == op]


# ---- a max pool of a −inf-padded input ---------------------------------------------------------------------------
class PadThenPool(nn.Module):
    """TensorFlow's 'same' max pool written by hand, in the three spellings users write."""

    def __init__(self, pads=(0, 1, 0, 1), kernel=2, stride=2, how="function"):
        super().__init__()
        self.pads, self.how = pads, how
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(kernel, stride)
        self.kernel, self.stride = kernel, stride
        self.pad = nn.ConstantPad2d(pads, float("-inf"))

    def forward(self, x):
        x = self.conv(x)  # about half negative: a zero pad would win where −inf does not
        if self.how == "module":
            return self.pool(self.pad(x))
        padded = F.pad(x, self.pads, value=-float("inf"))
        if self.how == "functional":
            return F.max_pool2d(padded, self.kernel, self.stride)
        return self.pool(padded)


@pytest.mark.parametrize("how", ["function", "module", "functional"])
@pytest.mark.parametrize("pads, kernel, stride, size, padding", [
    ((0, 1, 0, 1), 2, 2, 7, "same"),  # 7 -> 4: the odd pixel at the bottom/right
    ((1, 1, 1, 1), 3, 2, 8, (1, 1)),  # symmetric: what the pool's own padding does
    ((1, 1, 0, 0), 3, 1, 6, (0, 1)),
])
def test_hand_written_neg_inf_pad_before_a_max_pool_is_one_max_pool(how, pads, kernel, stride, size, padding):
    src = PadThenPool(pads, kernel, stride, how).eval()
    g = import_model(src, (3, size, size))
    assert [n.op for n in g.nodes] == ["Input", "Conv2d", "MaxPool2d"]
    (pool,) = params(g, "MaxPool2d")
    assert pool["padding"] == padding
    net = engine.build_module(g).eval()
    net.load_state_dict(map_state_dict(g, src.state_dict()), strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(net(x), src(x))


def test_neg_inf_pad_that_is_no_pool_padding_is_refused_naming_the_pads():
    with pytest.raises(ImportModelError, match=r"a −inf pad \(0, 2, 0, 2\) before a max pool that is neither its "
                                               r"'same' padding nor a symmetric one"):
        import_model(PadThenPool((0, 2, 0, 2)), (3, 7, 7))


class PadOnly(nn.Module):
    def forward(self, x):
        return F.pad(x, (0, 1, 0, 1), value=float("-inf"))


def test_neg_inf_pad_without_a_pool_is_refused_with_the_reason():
    with pytest.raises(ImportModelError, match=r"F.pad\(mode='constant', value=-inf\) \(1×: a −inf pad is read "
                                               r"only as the padding of a max pool right after it\)"):
        import_model(PadOnly(), (3, 7, 7))


# ---- token ids and a recurrent state kept between calls ---------------------------------------------------------
class WordModel(nn.Module):
    """A hand-written stateful language model: the final state is kept on the model, detached, for the next call."""

    def __init__(self, rnn="LSTM"):
        super().__init__()
        self.embed = nn.Embedding(50, 8)
        self.rnn = getattr(nn, rnn)(8, 16, num_layers=2, batch_first=True)
        self.out = nn.Linear(16, 50)
        self.hidden = None

    def forward(self, tokens):
        y, state = self.rnn(self.embed(tokens), self.hidden)
        if isinstance(self.rnn, nn.LSTM):
            h, c = state
            self.hidden = (h.detach(), c.detach())
        else:
            self.hidden = state.detach()
        return self.out(y)


@pytest.mark.parametrize("rnn", ["LSTM", "GRU"])
def test_hand_written_stateful_language_model_imports_with_token_ids_and_its_state(rnn):
    src = WordModel(rnn).eval()
    g = import_model(src, (12,))
    assert [n.op for n in g.nodes] == ["Input", "Embedding", rnn, "Linear"]
    assert params(g, "Input")[0]["dtype"] == "int64"
    assert params(g, rnn)[0]["stateful"] is True and params(g, rnn)[0]["num_layers"] == 2
    assert src.hidden is None and "hidden" in vars(src)  # the import traced it and left it as it was
    net = engine.build_module(g).eval()
    net.load_state_dict(map_state_dict(g, src.state_dict()), strict=True)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(3):  # from the second call on, both start from the state the previous call left
            x = torch.randint(0, 50, (4, 12), generator=gen)
            torch.testing.assert_close(net(x), src(x))
        net.reset_state()
        src.hidden = None
        torch.testing.assert_close(net(x), src(x))


class StatelessWords(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(30, 6)
        self.lstm = nn.LSTM(6, 10, batch_first=True)

    def forward(self, tokens):
        return self.lstm(self.embed(tokens))[0][:, -1]


def test_token_ids_without_a_kept_state_give_a_stateless_layer():
    g = import_model(StatelessWords(), (9,))
    assert params(g, "Input")[0]["dtype"] == "int64"
    (lstm,) = params(g, "LSTM")
    assert (lstm["stateful"], lstm["return_sequence"]) == (False, False)


class KeepsOutput(nn.Module):
    """Keeps the output, not the final state: the state the layer is fed next time is still None."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.last = None

    def forward(self, x):
        y = self.lstm(x)[0]
        self.last = y  # kept for inspection, say
        return y


def test_a_kept_value_that_is_not_a_final_state_changes_nothing():
    src = KeepsOutput()
    g = import_model(src, (5, 4))
    assert params(g, "LSTM")[0]["stateful"] is False
    assert src.last is None


class UsesFinalState(nn.Module):
    """Keeps the final state but also computes its output from it: not a state that is only carried."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 6, batch_first=True)
        self.h = None

    def forward(self, x):
        y, h = self.gru(x, self.h)
        self.h = h.detach()
        return y + h.transpose(0, 1)  # (B, 1, H): the last state added to every step


def test_a_kept_state_that_also_feeds_the_output_is_refused_naming_it():
    with pytest.raises(ImportModelError, match=r"nn.GRU whose final state is kept for the next call and also used "
                                               r"in this one \(keep the state only"):
        import_model(UsesFinalState(), (5, 4))


# ---- a restricted Boltzmann machine ------------------------------------------------------------------------------
class MyRBM(nn.Module):
    def __init__(self, visible=30, hidden=7, visible_bias=True):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(visible, hidden) * 0.1)
        if visible_bias:
            self.v_bias = nn.Parameter(torch.randn(visible) * 0.1)
        self.h_bias = nn.Parameter(torch.randn(hidden) * 0.1)

    def forward(self, v):
        return torch.sigmoid(self.h_bias + torch.matmul(v, self.weights))


class Recommender(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.rbm = MyRBM(**kw)

    def forward(self, ratings):
        return self.rbm(ratings)


def test_hand_written_rbm_imports_as_the_rbm_op_and_computes_the_same():
    src = Recommender()
    g = import_model(src, (30,))
    assert [n.op for n in g.nodes] == ["Input", "RBM"]
    assert params(g, "RBM") == [{"hidden": 7, "visible_units": "binary"}]
    assert engine.check(g).total_params == sum(p.numel() for p in src.parameters())
    net = engine.build_module(g).eval()
    with torch.no_grad():  # the catalog's RBM names its tensors W, vb, hb
        rbm = next(m for m in net.modules() if type(m).__name__ == "RBM")
        rbm.W.copy_(src.rbm.weights)
        rbm.vb.copy_(src.rbm.v_bias)
        rbm.hb.copy_(src.rbm.h_bias)
        x = torch.rand(3, 30)
        torch.testing.assert_close(net(x), src(x))


class StarLevelRBM(nn.Module):
    """Softmax visible units written another way than the catalog's: a comparison with 1..5 for one_hot."""

    def __init__(self, movies=12, hidden=4, rounding=torch.ceil):
        super().__init__()
        self.W = nn.Parameter(torch.randn(movies * 5, hidden) * 0.1)
        self.b_v = nn.Parameter(torch.randn(movies * 5) * 0.1)
        self.b_h = nn.Parameter(torch.randn(hidden) * 0.1)
        self.rounding = rounding

    def forward(self, v):
        stars = self.rounding(v * 5 - 1e-4).clamp(0, 5)
        units = (stars.unsqueeze(-1) == torch.arange(1, 6)).float().flatten(1)
        return torch.sigmoid(units @ self.W + self.b_h)


def test_hand_written_softmax_rbm_imports_as_the_softmax_rbm_and_computes_the_same():
    src = StarLevelRBM()
    g = import_model(src, (12,))
    assert [n.op for n in g.nodes] == ["Input", "RBM"]
    assert params(g, "RBM") == [{"hidden": 4, "visible_units": "softmax"}]
    net = engine.build_module(g).eval()
    with torch.no_grad():
        rbm = next(m for m in net.modules() if type(m).__name__ == "RBM")
        for mine, theirs in ((rbm.W, src.W), (rbm.vb, src.b_v), (rbm.hb, src.b_h)):
            mine.copy_(theirs)
        x = torch.randint(0, 11, (3, 12)) / 10  # half stars, 0 = not rated
        torch.testing.assert_close(net(x), src(x))


def test_an_encoding_that_is_not_the_star_levels_is_no_softmax_rbm():
    with pytest.raises(ImportModelError, match="unsupported ops"):  # floor: 3.5 stars would be level 3, not 4
        import_model(StarLevelRBM(rounding=torch.floor), (12,))


def test_an_rbm_block_imported_with_modules_is_the_rbm_op_not_a_module_around_it():
    g = import_model(Recommender(), (30,), modules=True)
    assert [n.op for n in g.nodes] == ["Input", "RBM"] and not g.modules


def test_sigmoid_of_a_matmul_without_a_visible_bias_is_no_rbm_and_is_refused_as_before():
    with pytest.raises(ImportModelError, match="a tensor attribute used directly"):
        import_model(Recommender(visible_bias=False), (30,))


@pytest.mark.parametrize("model, shape", [(WordModel(), (12,)), (Recommender(), (30,)), (PadThenPool(), (3, 7, 7))])
def test_real_run_fallback_gives_the_same_graph(monkeypatch, model, shape):
    """Without fake tensors the model runs for real: token ids are then random ids below the smallest vocabulary."""
    import engine.fx.importer as fx_import

    fast = import_model(model, shape)
    monkeypatch.setattr(fx_import, "_record_fake", lambda gm, shapes, vocab=None: None)
    assert import_model(model, shape).to_dict() == fast.to_dict()
