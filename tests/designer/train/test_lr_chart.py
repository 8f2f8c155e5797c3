"""The learning-rate chart has numbers on its y axis while training, also when the rate stays inside one decade
(issue 16: "The learning-rate chart has no y-axis numbers while training")."""
from __future__ import annotations

import json
import math

import pytest
from streamlit.testing.v1 import AppTest

from designer.train import plots


def rows(lrs: list[float]) -> list[dict]:
    return [{"kind": "step", "step": i + 1, "epoch": 0.05 * (i + 1), "lr": lr, "train_loss": 2.0, "train_acc": 0.1,
             "images_per_s": 100.0} for i, lr in enumerate(lrs)]


def labelled_ticks(yaxis: dict) -> list[tuple[float, str]]:
    """(value, label) of the ticks inside the axis's visible range (log axes: the range is in powers of ten)."""
    lo, hi = yaxis["range"]
    return [(v, t) for v, t in zip(yaxis.get("tickvals") or [], yaxis.get("ticktext") or [])
            if lo <= math.log10(v) <= hi and t]


@pytest.mark.parametrize("lrs, shown", [
    ([2e-4 * (1 + 3 * i / 9) for i in range(10)], ["2e-4", "5e-4"]),  # a warm-up inside one decade
    ([1e-3] * 8, ["1e-3"]),  # a constant rate
    ([3e-3 * 0.5 ** i for i in range(12)], None),  # decays over three decades
])
def test_the_lr_axis_is_labelled_inside_the_rates_range(lrs, shown):
    fig = plots.single({"run": rows(lrs)}, "lr", "Learning rate", "lr", log=True, epochs=2)
    y = fig.to_plotly_json()["layout"]["yaxis"]
    assert y["type"] == "log"
    ticks = labelled_ticks(y)
    lo, hi = 10 ** y["range"][0], 10 ** y["range"][1]
    assert lo <= min(lrs) and max(lrs) <= hi  # every point is on the chart
    if shown is not None:
        assert [t for _, t in ticks] == shown
    else:  # many decades: powers of ten, at least two of them
        assert len(ticks) >= 2 and all(math.isclose(math.log10(v), round(math.log10(v))) for v, _ in ticks)


def test_the_live_charts_send_the_labelled_lr_axis_to_the_page():
    def script():
        import streamlit as st

        from designer.train.live import _charts

        _charts({"run": st.session_state.rows}, 2)

    at = AppTest.from_function(script, default_timeout=60)
    at.session_state.rows = rows([2e-4 * (1 + 3 * i / 9) for i in range(10)])
    at.run()
    assert not at.exception
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    lr = next(f for f in figs if f["layout"]["title"]["text"] == "Learning rate")
    assert [t for _, t in labelled_ticks(lr["layout"]["yaxis"])] == ["2e-4", "5e-4"]
