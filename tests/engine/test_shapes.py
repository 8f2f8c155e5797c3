"""The seed tutorials' numbers, the teaching messages, and the padding/stride rules — all checked against torch."""
from __future__ import annotations

import pytest

import engine
from tests.engine.catalog.test_ops import assert_matches_torch, chain


def out_shape(shape, *layers):
    r = assert_matches_torch(chain(shape, *layers))
    return r.nodes[f"n{len(layers) - 1}"].shape, r


# --- the seed tutorials, one test each -------------------------------------------------------------------------

def test_seed_conv_10_filters_5x5_pad_2_keeps_32x32():
    shape, _ = out_shape((3, 32, 32), ("Conv2d", {"out_channels": 10, "kernel_size": 5, "stride": 1, "padding": 2}))
    assert shape == (10, 32, 32)


def test_seed_maxpool_2x2_stride_2_on_10x8x8():
    shape, _ = out_shape((10, 8, 8), ("MaxPool2d", {"kernel_size": 2, "stride": 2}))
    assert shape == (10, 4, 4)


def test_seed_20_filters_8x8_stride_2_same():
    shape, _ = out_shape((3, 32, 32), ("Conv2d", {"out_channels": 20, "kernel_size": 8, "stride": 2,
                                                  "padding": "same"}))
    assert shape == (20, 16, 16)


def test_seed_20_filters_8x8_stride_2_valid():
    shape, _ = out_shape((3, 32, 32), ("Conv2d", {"out_channels": 20, "kernel_size": 8, "stride": 2,
                                                  "padding": "valid"}))
    assert shape == (20, 13, 13)


def test_seed_20_filters_8x8_stride_2_pad_1():
    shape, _ = out_shape((3, 32, 32), ("Conv2d", {"out_channels": 20, "kernel_size": 8, "stride": 2, "padding": 1}))
    assert shape == (20, 14, 14)


def test_seed_20_filters_8x8_have_3860_parameters():
    _, r = out_shape((3, 32, 32), ("Conv2d", {"out_channels": 20, "kernel_size": 8, "stride": 2, "padding": 1}))
    assert r.nodes["n0"].params == (8 * 8 * 3 + 1) * 20 == 3860


def test_seed_global_average_pooling_3x100x100():
    shape, _ = out_shape((3, 100, 100), ("GlobalAvgPool2d", {}))
    assert shape == (3, 1, 1)


def test_seed_transposed_conv_inverts_conv_in_4_k3_s2_p1_gives_8():
    # out = s·(in−1) + ((in + 2p − k) mod s) + k − 2p, the size a stride-2 conv maps back onto 4
    i, k, s, p = 4, 3, 2, 1
    op = (8 + 2 * p - k) % s  # the output_padding that selects 8 among the inputs a conv maps to 4
    shape, _ = out_shape((1, 4, 4), ("ConvTranspose2d", {"out_channels": 1, "kernel_size": k, "stride": s,
                                                         "padding": p, "output_padding": op}))
    assert shape == (1, 8, 8) == (1, s * (i - 1) + op + k - 2 * p, s * (i - 1) + op + k - 2 * p)
    back, _ = out_shape((1, 8, 8), ("Conv2d", {"out_channels": 1, "kernel_size": k, "stride": s, "padding": p}))
    assert back == (1, 4, 4)


# --- messages that teach ----------------------------------------------------------------------------------------

def test_kernel_larger_than_input_explains_the_arithmetic():
    g = chain((3, 4, 4), ("Conv2d", {"out_channels": 8, "kernel_size": 5}))
    g["nodes"][1]["id"] = "conv3"
    g["outputs"] = ["conv3"]
    r = engine.check(g)
    assert not r.ok
    msg = r.nodes["conv3"].error
    assert "kernel 5 is larger than the padded input" in msg
    assert "4 (4 + 2·0)" in msg
    assert "Output would be (4 − 5 + 0)/1 + 1 = 0" in msg
    issue = r.errors[0]
    assert issue.node == "conv3" and issue.field == "params.kernel_size"
    assert str(issue).startswith("conv3")


def test_reshape_message_shows_both_products():
    r = engine.check(chain((3, 4, 5), ("Reshape", {"shape": [7, 9]})))
    assert "3 · 4 · 5 = 60" in r.nodes["n0"].error and "7 · 9 = 63" in r.nodes["n0"].error


def test_groups_must_divide_channels_message():
    r = engine.check(chain((6, 8, 8), ("Conv2d", {"out_channels": 8, "kernel_size": 3, "groups": 4})))
    assert "groups=4" in r.nodes["n0"].error and "input channels=6" in r.nodes["n0"].error


def test_linear_on_image_suggests_flatten():
    r = engine.check(chain((3, 4, 4), ("Linear", {"out_features": 3})))
    assert "Flatten" in r.nodes["n0"].error and r.errors[0].fix["op"] == "Flatten"


def test_lstm_on_image_suggests_to_sequence():
    r = engine.check(chain((1, 28, 28), ("LSTM", {"hidden_size": 8})))
    assert "ToSequence" in r.nodes["n0"].error


# --- convolution geometry ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("params,expected", [
    ({"kernel_size": 3, "groups": 2}, (4, 7, 9)),
    ({"kernel_size": 3, "groups": 4, "dilation": 2}, (4, 5, 7)),  # depthwise, dilated: effective kernel 5
    ({"kernel_size": [1, 5], "stride": [1, 3]}, (4, 9, 3)),
    ({"kernel_size": [5, 2], "stride": [3, 2], "dilation": [1, 3], "padding": [2, 1]}, (4, 3, 5)),
    ({"kernel_size": 3, "padding": "full"}, (4, 11, 13)),
    ({"kernel_size": 3, "padding": "full", "dilation": 2}, (4, 13, 15)),
    ({"kernel_size": [2, 4], "padding": "full", "stride": 2}, (4, 5, 7)),
])
def test_conv_groups_dilation_asymmetric(params, expected):
    shape, _ = out_shape((4, 9, 11), ("Conv2d", {"out_channels": 4, **params}))
    assert shape == expected


@pytest.mark.parametrize("size", [7, 8, 9, 10, 27, 28])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
def test_same_padding_is_ceil_in_over_stride(size, stride, kernel):
    want = -(-size // stride)
    for op in ("Conv2d", "MaxPool2d", "AvgPool2d"):
        extra = {"out_channels": 2} if op == "Conv2d" else {}
        shape, _ = out_shape((2, size, size + 1), (op, {"kernel_size": kernel, "stride": stride, "padding": "same",
                                                        **extra}))
        assert shape[1:] == (want, -(-(size + 1) // stride)), (op, size, stride, kernel)


@pytest.mark.parametrize("size,k,s,p", [(5, 2, 2, 0), (6, 3, 2, 1), (7, 3, 2, 0), (10, 3, 3, 1), (9, 4, 3, 2),
                                        (5, 3, 2, 1)])
def test_ceil_mode(size, k, s, p):
    floor_shape, _ = out_shape((1, size, size), ("MaxPool2d", {"kernel_size": k, "stride": s, "padding": p}))
    ceil_shape, _ = out_shape((1, size, size), ("MaxPool2d", {"kernel_size": k, "stride": s, "padding": p,
                                                              "ceil_mode": True}))
    avg_shape, _ = out_shape((1, size, size), ("AvgPool2d", {"kernel_size": k, "stride": s, "padding": p,
                                                             "ceil_mode": True}))
    assert floor_shape[1] == (size + 2 * p - k) // s + 1
    assert ceil_shape == avg_shape and ceil_shape[1] in (floor_shape[1], floor_shape[1] + 1)


def test_ceil_mode_drops_a_window_that_starts_in_the_right_padding():
    # 5 wide, k 2, s 2, pad 1: ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but window 4 would start at 6 ≥ 5 + 1 → torch gives 3
    shape, _ = out_shape((1, 5, 5), ("MaxPool2d", {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}))
    assert shape == (1, 3, 3)


def test_ceil_mode_keeps_a_window_that_overhangs_the_input_end():
    # dilated window 5 on a height of 3: ⌈(3 − 5)/3⌉ + 1 = 1 window in ceil mode (torch agrees), none without
    shape, _ = out_shape((1, 3, 6), ("MaxPool2d", {"kernel_size": [3, 4], "stride": [3, 2], "padding": [0, 1],
                                                   "dilation": 2, "ceil_mode": True}))
    assert shape == (1, 1, 2)
    r = engine.check(chain((1, 3, 6), ("MaxPool2d", {"kernel_size": [3, 4], "stride": [3, 2], "padding": [0, 1],
                                                     "dilation": 2})))
    assert "Output would be (3 − 5 + 0)/3 + 1 = 0" in r.nodes["n0"].error


def test_pool_padding_more_than_half_the_window_is_refused():
    r = engine.check(chain((1, 9, 9), ("AvgPool2d", {"kernel_size": 3, "padding": 2})))
    assert not r.ok and "at most half" in r.nodes["n0"].error


def test_report_counts_macs_and_memory():
    _, r = out_shape((3, 8, 8), ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
                     ("BatchNorm2d", {}), ("ReLU", {}), ("GlobalAvgPool2d", {}), ("Flatten", {}),
                     ("Linear", {"out_features": 2}))
    assert r.nodes["n0"].macs == 4 * 8 * 8 * 3 * 3 * 3
    assert r.nodes["n5"].macs == 4 * 2
    assert r.total_params == (3 * 9 * 4 + 4) + 8 + (4 * 2 + 2)
    assert r.memory_estimate(32)["activations"] > 0
