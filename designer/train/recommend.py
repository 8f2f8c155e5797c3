"""The Train page for a recommender (task recommendation): its curves (reconstruction error, free-energy gap,
held-out RMSE) and the evaluation table, the model's numbers beside the baselines'."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from designer.train import plots

CHART = {"displayModeBar": False}
BASELINE_ROWS = ("model", "movie mean", "global mean", "most popular")


def is_recommender(runs: dict[str, list[dict]]) -> bool:
    return any("free_energy_gap" in r for rows in runs.values() for r in rows)


def _val(runs: dict[str, list[dict]], key: str, title: str, y_title: str, epochs: float | None) -> go.Figure:
    """A validation series (one point per evaluation) per run."""
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        sel = [r for r in rows if r.get(key) is not None]
        fig.add_scatter(x=[r["epoch"] for r in sel], y=[r[key] for r in sel], mode="lines+markers", name=label,
                        line=dict(color=plots.PALETTE[i % len(plots.PALETTE)], width=2), showlegend=len(runs) > 1)
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title=y_title, **plots.BASE_LAYOUT)
    plots._epoch_axis(fig, epochs)
    return fig


def charts(runs: dict[str, list[dict]], epochs: float | None) -> None:
    left, right = st.columns(2)
    left.plotly_chart(plots.curves(runs, "loss", "Reconstruction error (mean squared, ratings / 5)", epochs=epochs),
                      key="chart_loss", config=CHART)
    right.plotly_chart(_val(runs, "free_energy_gap", "Free-energy gap: held-out − training users",
                            "mean F(v) difference", epochs), key="chart_gap", config=CHART)
    left.plotly_chart(_val(runs, "val_rmse", "Held-out RMSE", "stars", epochs), key="chart_rmse", config=CHART)
    right.plotly_chart(plots.single(runs, "images_per_s", "Throughput", "users / s", epochs=epochs),
                       key="chart_speed", config=CHART)
    st.caption("A widening free-energy gap means the RBM fits its training users better than held-out ones: "
               "overfitting (Hinton, A Practical Guide to Training RBMs, 2010).")


def table(res: dict) -> pd.DataFrame:
    """One row per predictor (the model, then its baselines), one column per metric; blank where a baseline
    does not apply (the global mean ranks nothing; most-popular predicts no rating)."""
    k = res.get("k", 10)
    cols = {"rmse": "RMSE (stars) ↓", f"precision@{k}": f"precision@{k}", f"recall@{k}": f"recall@{k}",
            f"ndcg@{k}": f"NDCG@{k}"}
    m = res["metrics"]
    rows = {("RBM" if name == "model" else name): {cols[c]: m[name].get(c) for c in cols}
            for name in BASELINE_ROWS if name in m}
    return pd.DataFrame.from_dict(rows, orient="index")


def render_results(res: dict) -> None:
    st.subheader("Results", anchor=False)
    m = res["metrics"]
    k = res.get("k", 10)
    c = st.columns(4)
    c[0].metric("Held-out RMSE", f"{m['model']['rmse']:.3f}", border=True,
                delta=f"{m['model']['rmse'] - m['movie mean']['rmse']:+.3f} vs movie mean", delta_color="inverse")
    ndcg, pop = m["model"].get(f"ndcg@{k}"), m["most popular"].get(f"ndcg@{k}")
    c[1].metric(f"NDCG@{k}", f"{ndcg:.3f}" if ndcg is not None else "–", border=True,
                delta=f"{ndcg - pop:+.3f} vs most popular" if ndcg is not None and pop is not None else None)
    c[2].metric("Test users", f"{res['n']:,}", border=True,
                help=f"{res['held_out']:,} held-out ratings: {res.get('split')}")
    c[3].metric("Weights of epoch", f"{res.get('epoch')}", border=True,
                help=f"the {res.get('weights', 'best')} weights (lowest held-out RMSE), {res.get('visible_units')} "
                     f"visible units, {res.get('hidden')} hidden")
    with st.container(key="rec_table"):
        st.table(table(res).style.format("{:.3f}", na_rep="–"))
    st.caption(f"On {res['held_out']:,} held-out ratings of {res['n']} test users ({res.get('data')}, "
               f"{res.get('movies'):,} movies). RMSE: the predicted rating against the held-out one. Ranking: every "
               f"movie the user had not rated, top {k}; relevant = a held-out rating of 4 stars or more. "
               f"Open **Inspect** for a user's recommendations.")
