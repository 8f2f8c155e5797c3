"""Stateful recurrent layers and the language_model task's shape check."""
from __future__ import annotations

import torch

from engine.codegen import build_module, to_python
from engine.fixes import apply_fix, suggest_fixes
from engine.shapes import check
from tests.engine.lm.graphs import lm_graph


def test_stateful_lstm_carries_detached_state_across_calls_and_resets():
    g = lm_graph(V=50, T=6, H=8, layers=2)
    torch.manual_seed(0)
    m = build_module(g)
    x1, x2 = torch.randint(0, 50, (3, 6)), torch.randint(0, 50, (3, 6))
    y1, y2 = m(x1), m(x2)
    # the reference: the same layers called by hand, the state passed on explicitly
    o1, s = m.lstm(m.embed(x1))
    o2, _ = m.lstm(m.embed(x2), s)
    torch.testing.assert_close(y1, m.fc(o1))
    torch.testing.assert_close(y2, m.fc(o2))
    m.reset_state()
    torch.testing.assert_close(m(x2), m.fc(m.lstm(m.embed(x2))[0]))
    assert m(torch.randint(0, 50, (1, 6))).shape == (1, 6, 50)  # another batch size starts afresh
    assert set(m.carried) == {"lstm"} and m.carried["lstm"][0].shape == (2, 1, 8)


def test_a_stateless_lstm_forgets_between_calls():
    m = build_module(lm_graph(V=50, T=6, H=8, stateful=False))
    x = torch.randint(0, 50, (2, 6))
    torch.testing.assert_close(m(x), m(x))
    assert "carry_state" not in to_python(lm_graph(stateful=False))


def test_truncated_bptt_gradient_stops_at_the_batch_boundary():
    torch.manual_seed(0)
    x0, x1 = torch.randint(0, 30, (2, 4)), torch.randint(0, 30, (2, 4))
    m = build_module(lm_graph(V=30, T=4, H=5, layers=1))
    m(x0)
    m(x1).sum().backward()  # would fail ("backward through the graph a second time") or differ without detach
    # by hand: the first batch's final state enters the second as a constant
    ref = build_module(lm_graph(V=30, T=4, H=5, layers=1))
    ref.load_state_dict(m.state_dict())
    _, s0 = ref.lstm(ref.embed(x0))
    ref.fc(ref.lstm(ref.embed(x1), tuple(s.detach() for s in s0))[0]).sum().backward()
    for a, b in zip(m.parameters(), ref.parameters()):
        torch.testing.assert_close(a.grad, b.grad)


def test_stateful_needs_a_one_way_layer():
    g = lm_graph()
    g["nodes"][2]["params"]["bidirectional"] = True
    assert any("stateful" in e.message for e in check(g).errors)


def test_the_check_says_when_V_differs_from_the_vocabulary_and_fixes_it():
    g = lm_graph(V=100)
    assert check(g).ok
    g["task"]["num_classes"] = 120
    errs = check(g).errors
    assert {e.node for e in errs} == {"embed", "fc"}
    assert any("V = 120" in e.message and "Set out_features to 120" in e.message for e in errs)
    fixes = suggest_fixes(g)
    assert {f["title"] for f in fixes} == {"Set num_embeddings of embed to 120", "Set out_features of fc to 120"}
    for f in fixes:
        g = apply_fix(g, f)
    assert check(g).ok


def test_a_language_model_reads_token_ids_and_outputs_every_step():
    g = lm_graph()
    g["nodes"][2]["params"]["return_sequence"] = False
    assert any("T×V" in e.message for e in check(g).errors)
    g = lm_graph()
    g["nodes"][0]["params"]["dtype"] = "float32"
    assert any("int64 Input" in e.message for e in check(g).errors)
