"""Inspect for a recommender (an RBM run): pick a user; what they rated and their top-10 recommendations; per
hidden unit the movies it weighs most and their genres; the weight matrix as a heatmap. The numbers come from
engine.visualise.recommender; this module only draws them."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.visualise.recommender import Recommender, load_recommender

HEATMAP_MOVIES = 200  # columns of the heatmap: the most-rated movies (the first of the Input's, by rating count)


@st.cache_resource(max_entries=4, show_spinner="Loading the recommender and its ratings…")
def _load(run_path: str, stamp: str) -> Recommender:
    return load_recommender(run_path)


def _stars(x: float | None) -> str:
    return "" if x is None else "★" * int(x) + ("½" if x - int(x) >= 0.5 else "") + f" {x:g}"


def render(run_path: str, stamp: str) -> None:
    rec = _load(run_path, stamp)
    users = rec.users()
    labels = {u: f"user {u} ({kind}{', 20% held out' if kind != 'train' else ''})" for u, kind in users}
    c_user, c_k = st.columns([3, 1])
    user = c_user.selectbox("User", [u for u, _ in users], format_func=labels.get, key="rec_user",
                            help="Test and validation users: the model saw 80% of their ratings; a recommendation they rated in the "
                                 "held-out 20% shows that rating.")
    k = c_k.number_input("Recommendations", 1, 50, 10, key="rec_k")
    rated, recs = rec.rated(user), rec.recommend(user, int(k))
    left, right = st.columns(2)
    with left:
        st.markdown(f"**What user {user} rated** ({len(rated)} movies)")
        st.dataframe(pd.DataFrame([{"title": r["title"], "stars": _stars(r["stars"]), "genres": r["genres"]}
                                   for r in rated]), hide_index=True, height=380, key="rec_rated")
    with right:
        st.markdown(f"**Top {len(recs)} recommendations** (predicted stars)")
        with st.container(key="rec_top"):
            st.table(pd.DataFrame([{"title": r["title"], "score": f"{r['score']:.2f}", "held out": _stars(r["held_out"]),
                                    "genres": r["genres"]} for r in recs], index=[r["rank"] for r in recs]))
    st.divider()
    st.markdown("**What each hidden feature learned**: the movies with the largest weights into it")
    H = rec.rbm.hidden
    unit = st.slider("Hidden unit", 0, H - 1, 0, key="rec_unit") if H > 1 else 0
    feat = rec.feature(unit, 10)
    st.dataframe(pd.DataFrame([{"title": r["title"], "genres": r["genres"], "weight": round(r["weight"], 4)}
                               for r in feat]), hide_index=True, key="rec_feature")
    W = rec.weights()
    n = min(HEATMAP_MOVIES, W.shape[1])
    counts = (rec.data.x_train > 0).sum(0).cpu().numpy()
    cols = counts.argsort(kind="stable")[::-1][:n]
    fig = go.Figure(go.Heatmap(z=W[:, cols], x=[rec.titles[i] for i in cols], y=[f"h{j}" for j in range(H)],
                               colorscale="RdBu", zmid=0, colorbar=dict(title="weight")))
    fig.update_layout(title=f"Weights: {H} hidden units × the {n} most-rated movies"
                            + (" (5-star minus 1-star weight)" if rec.rbm.softmax else ""),
                      height=max(260, 18 * H + 120), margin=dict(l=10, r=10, t=40, b=10), xaxis=dict(showticklabels=False))
    st.plotly_chart(fig, key="rec_heatmap", config={"displayModeBar": False})
