"""What the ops compute (not only their shapes): each emitted expression against torch's own definition."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import engine
from tests.engine.catalog.test_ops import assert_matches_torch, chain, graph


def build(g: dict) -> torch.nn.Module:
    return engine.build_module(g).eval()


def test_avgpool_same_averages_only_real_pixels():
    # 3×3 'same' at stride 2 on 9×10: the width needs 2 padding columns (1+1), the height 2 rows (1+1);
    # at stride 2 on 10: total 1 → asymmetric (0 left, 1 right)
    for shape, k, s in (((2, 9, 10), 3, 2), ((2, 10, 10), 2, 2), ((1, 7, 6), 3, 1), ((1, 5, 8), [2, 3], [3, 2])):
        g = chain(shape, ("AvgPool2d", {"kernel_size": k, "padding": "same", "stride": s}))
        x = torch.rand(3, *shape) + 1.0  # positive: a counted zero pad would lower the mean
        y = build(g)(x)
        kh, kw = (k, k) if isinstance(k, int) else k
        sh, sw = (s, s) if isinstance(s, int) else s
        H, W = shape[1:]
        oh, ow = -(-H // sh), -(-W // sw)
        th = max((oh - 1) * sh + kh - H, 0) // 2
        tw = max((ow - 1) * sw + kw - W, 0) // 2
        want = torch.empty(3, shape[0], oh, ow)
        for i in range(oh):
            for j in range(ow):
                r0, c0 = i * sh - th, j * sw - tw
                win = x[:, :, max(r0, 0):r0 + kh, max(c0, 0):c0 + kw]
                want[:, :, i, j] = win.mean(dim=(2, 3))
        torch.testing.assert_close(y, want)


def test_avgpool_int_padding_counts_pad_by_default():
    x = torch.rand(1, 1, 4, 4)
    y = build(chain((1, 4, 4), ("AvgPool2d", {"kernel_size": 3, "stride": 1, "padding": 1})))(x)
    torch.testing.assert_close(y, F.avg_pool2d(x, 3, 1, 1, count_include_pad=True))
    y = build(chain((1, 4, 4), ("AvgPool2d", {"kernel_size": 3, "stride": 1, "padding": 1,
                                              "count_include_pad": False})))(x)
    torch.testing.assert_close(y, F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))


def test_bed_of_nails_inserts_zeros():
    x = torch.randn(2, 3, 4, 5)
    y = build(chain((3, 4, 5), ("BedOfNailsUnpool2d", {"scale_factor": [2, 3]})))(x)
    want = torch.zeros(2, 3, 8, 15)
    want[:, :, ::2, ::3] = x
    torch.testing.assert_close(y, want)


def test_nearest_unpool_copies_each_value():
    x = torch.randn(2, 3, 4, 5)
    y = build(chain((3, 4, 5), ("NearestUnpool2d", {"scale_factor": [3, 2]})))(x)
    torch.testing.assert_close(y, F.interpolate(x, scale_factor=(3, 2), mode="nearest"))


def unpool_graph(shape, pool: dict) -> dict:
    return graph([{"id": "x", "op": "Input", "params": {"shape": list(shape)}},
                  {"id": "pool", "op": "MaxPool2d", "params": pool, "inputs": ["x"]},
                  {"id": "act", "op": "ReLU", "inputs": ["pool"]},
                  {"id": "unpool", "op": "MaxUnpool2d", "params": {"pool": "pool"}, "inputs": ["act"]}],
                 outputs=["unpool"])


@pytest.mark.parametrize("shape,pool", [
    ((2, 8, 8), {"kernel_size": 2}),
    ((2, 9, 11), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ((2, 9, 11), {"kernel_size": 3, "stride": 2, "ceil_mode": True}),
    ((2, 7, 10), {"kernel_size": 2, "padding": "same"}),  # asymmetric: pad 0 top, 1 bottom
    ((2, 9, 6), {"kernel_size": [4, 3], "stride": [2, 1], "padding": "same"}),
])
def test_max_unpool_puts_values_where_the_pool_found_them(shape, pool):
    g = unpool_graph(shape, pool)
    r = assert_matches_torch(g)
    assert r.nodes["unpool"].shape == tuple(shape)
    x = torch.randn(3, *shape)
    y = build(g)(x)
    # the reference: pool → relu → unpool with torch's own functional ops on explicitly padded input
    k, s = pool["kernel_size"], pool.get("stride") or pool["kernel_size"]
    k = (k, k) if isinstance(k, int) else tuple(k)
    s = (s, s) if isinstance(s, int) else tuple(s)
    if pool.get("padding") == "same":
        from engine.catalog.arith import same_padding
        (t, b), (lf, rt) = same_padding(shape[1], k[0], s[0], 1), same_padding(shape[2], k[1], s[1], 1)
        xp = F.pad(x, (lf, rt, t, b), value=float("-inf"))
        v, i = F.max_pool2d(xp, k, s, return_indices=True)
        want = F.max_unpool2d(F.relu(v), i, k, s, output_size=xp.shape[2:])[:, :, t:t + shape[1], lf:lf + shape[2]]
    else:
        p = pool.get("padding", 0)
        v, i = F.max_pool2d(x, k, s, p, ceil_mode=pool.get("ceil_mode", False), return_indices=True)
        want = F.max_unpool2d(F.relu(v), i, k, s, p, output_size=x.shape[2:])
    torch.testing.assert_close(y, want)


def test_max_unpool_needs_the_pools_output_shape():
    g = graph([{"id": "x", "op": "Input", "params": {"shape": [2, 8, 8]}},
               {"id": "pool", "op": "MaxPool2d", "inputs": ["x"]},
               {"id": "c", "op": "Conv2d", "params": {"out_channels": 2, "kernel_size": 3}, "inputs": ["pool"]},
               {"id": "unpool", "op": "MaxUnpool2d", "params": {"pool": "pool"}, "inputs": ["c"]}])
    r = engine.check(g)
    assert not r.ok
    assert "2×2×2" in r.nodes["unpool"].error and "2×4×4" in r.nodes["unpool"].error


def test_max_unpool_must_name_a_maxpool():
    g = graph([{"id": "x", "op": "Input", "params": {"shape": [2, 8, 8]}},
               {"id": "c", "op": "Conv2d", "params": {"out_channels": 2, "kernel_size": 3}, "inputs": ["x"]},
               {"id": "unpool", "op": "MaxUnpool2d", "params": {"pool": "c"}, "inputs": ["c"]}])
    r = engine.check(g)
    assert not r.ok and r.nodes["unpool"].error


def test_lstm_last_step_and_bidirectional_final_states():
    g = chain((6, 5), ("LSTM", {"hidden_size": 4, "num_layers": 2, "bidirectional": True}))
    m = build(g)
    x = torch.randn(3, 6, 5)
    seq, (h, _) = m.n0(x)
    y = m(x)
    # forward direction: its state after the last step; backward: its state after reading back to step 1
    torch.testing.assert_close(y[:, :4], seq[:, -1, :4])
    torch.testing.assert_close(y[:, 4:], seq[:, 0, 4:])
    torch.testing.assert_close(y, torch.cat([h[-2], h[-1]], dim=1))
    g = chain((6, 5), ("GRU", {"hidden_size": 4}))
    m = build(g)
    torch.testing.assert_close(m(x), m.n0(x)[0][:, -1])


def test_to_sequence_reads_rows():
    x = torch.randn(2, 3, 4, 5)
    y = build(chain((3, 4, 5), ("ToSequence", {})))(x)
    for row in range(4):
        torch.testing.assert_close(y[:, row], x[:, :, row, :].reshape(2, 15))


def test_softmax_dim_is_channels_for_images_and_features_for_sequences():
    x = torch.randn(2, 4, 3, 3)
    y = build(chain((4, 3, 3), ("Softmax", {})))(x)
    torch.testing.assert_close(y.sum(dim=1), torch.ones(2, 3, 3))
    y = build(chain((5, 7), ("LogSoftmax", {"dim": -1})))(torch.randn(2, 5, 7))
    torch.testing.assert_close(y.exp().sum(dim=2), torch.ones(2, 5))


def test_embedding_looks_up_rows():
    g = chain((9,), ("Embedding", {"num_embeddings": 10, "embedding_dim": 4}), dtype="int64")
    m = build(g)
    ids = torch.randint(0, 10, (2, 9))
    torch.testing.assert_close(m(ids), m.n0.weight[ids])


def test_zero_pad_crops_with_negative_values():
    x = torch.randn(1, 2, 5, 6)
    y = build(chain((2, 5, 6), ("ZeroPad2d", {"padding": [1, 0, 3, -2]})))(x)
    torch.testing.assert_close(y, F.pad(x, (1, 0, 3, -2)))


def test_pixel_shuffle_and_unshuffle_compute_torchs_rearrangement_and_undo_each_other():
    x = torch.randn(2, 18, 3, 4)
    y = build(chain((18, 3, 4), ("PixelShuffle", {"upscale_factor": 3})))(x)
    torch.testing.assert_close(y, F.pixel_shuffle(x, 3))
    back = build(chain((2, 9, 12), ("PixelUnshuffle", {"downscale_factor": 3})))(y)
    torch.testing.assert_close(back, x)  # unshuffle(shuffle(x)) == x: no value is lost either way


def test_channel_shuffle_is_torchs_channel_shuffle():
    x = torch.randn(2, 12, 3, 4)
    for groups in (1, 2, 3, 12):
        y = build(chain((12, 3, 4), ("ChannelShuffle", {"groups": groups})))(x)
        torch.testing.assert_close(y, torch.nn.ChannelShuffle(groups)(x))


def test_channel_shuffle_refuses_groups_that_do_not_divide_the_channels():
    r = engine.check(chain((6, 4, 4), ("ChannelShuffle", {"groups": 4})))
    assert not r.ok and "6 channels do not split into 4 groups" in r.errors[0].message
    with pytest.raises(RuntimeError):
        torch.nn.ChannelShuffle(4)(torch.randn(1, 6, 4, 4))  # torch refuses it too


@pytest.mark.parametrize("size, chunks", [(7, 3), (6, 4), (5, 5), (2, 3), (8, 1)])
def test_chunk_returns_torchs_pieces_and_refuses_those_torch_does_not_return(size, chunks):
    x = torch.randn(2, size, 3)
    pieces = x.chunk(chunks, dim=1)
    for i in range(chunks):
        g = chain((size, 3), ("Chunk", {"chunks": chunks, "index": i}))
        if i < len(pieces):
            torch.testing.assert_close(build(g)(x), pieces[i])
        else:  # torch returns fewer pieces than asked when they would be empty (6 in chunks of 2: 3 pieces, not 4)
            r = engine.check(g)
            assert not r.ok and f"give only {len(pieces)}" in r.errors[0].message


def test_layer_norm_2d_is_torchvisions_layer_norm_2d():
    from torchvision.models.convnext import LayerNorm2d

    ref = LayerNorm2d(6, eps=1e-6)
    torch.nn.init.normal_(ref.weight)
    torch.nn.init.normal_(ref.bias)
    m = build(chain((6, 4, 5), ("LayerNorm2d", {})))
    m.n0.load_state_dict(ref.state_dict())
    x = torch.randn(2, 6, 4, 5) * 3 + 1
    torch.testing.assert_close(m(x), ref(x))


def test_layer_scale_scales_each_channel_by_its_learned_factor():
    m = build(chain((3, 2, 2), ("LayerScale", {"init_value": 0.25})))
    x = torch.randn(2, 3, 2, 2)
    torch.testing.assert_close(m(x), x * 0.25)
    with torch.no_grad():
        m.n0.copy_(torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1))
    torch.testing.assert_close(m(x), x * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1))


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_is_torchvisions_in_training_and_the_identity_at_eval(mode):
    import torchvision

    m = engine.build_module(chain((3, 4, 4), ("StochasticDepth", {"p": 0.5, "mode": mode})))
    x = torch.randn(16, 3, 4, 4)
    torch.manual_seed(3)
    y = m.train()(x)
    torch.manual_seed(3)
    torch.testing.assert_close(y, torchvision.ops.stochastic_depth(x, 0.5, mode, training=True))
    dropped = (y.flatten(1) == 0).all(dim=1)
    assert 0 < dropped.sum() < 16 if mode == "row" else dropped.all() or not dropped.any()
    torch.testing.assert_close(m.eval()(x), x)
