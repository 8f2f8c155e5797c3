"""Inspect for a language model: Generate, Next word, Surprise and Neighbours. The numbers come from
engine.visualise.text; this module only collects the text and draws."""
from __future__ import annotations

import html

import plotly.graph_objects as go
import streamlit as st

from designer.inspect.runs import LoadedRun
from engine.train.rundir import RunDir
from engine.visualise import text as T

DEFAULT_PROMPT = "the company said"
DEFAULT_SENTENCE = "the stock market fell sharply on monday after the report"


@st.cache_data(max_entries=8, show_spinner=False)
def _vocab(run_path: str, stamp: str) -> list[str] | None:
    return RunDir(run_path).vocab()


def is_language_model(run: LoadedRun) -> bool:
    return run.graph.task is not None and run.graph.task.kind == "language_model"


def language_model_tabs(run: LoadedRun) -> None:
    vocab = _vocab(str(run.path), run.stamp)
    if not vocab:
        st.warning(f"This run has no vocabulary file ({RunDir.VOCAB}), so its token ids cannot be turned into words. "
                   "Train it again with this version.", icon=":material/translate:")
        return
    steps = run.input_shape[0]
    st.caption(f"A word-level language model: {len(vocab):,} words, {steps} steps per window. Words outside the "
               f"vocabulary read as <unk>.")
    t_gen, t_next, t_surprise, t_nb = st.tabs(["Generate", "Next word", "Surprise", "Neighbours"])
    with t_gen:
        _generate(run, vocab, steps)
    with t_next:
        _next_word(run, vocab, steps)
    with t_surprise:
        _surprise(run, vocab, steps)
    with t_nb:
        _neighbours(run, vocab)


def _unknown_note(text: str, vocab: list[str]) -> None:
    _, unknown = T.words_to_ids(text, vocab)
    if unknown:
        st.caption(f"Not in the vocabulary (read as <unk>): {', '.join(sorted(set(unknown))[:12])}")


def _generate(run: LoadedRun, vocab: list[str], steps: int) -> None:
    with st.form("lm_generate", border=False):
        prompt = st.text_input("Prompt", DEFAULT_PROMPT, key="lm_prompt")
        c = st.columns(4)
        words = c[0].number_input("Words", 1, 500, 40, key="lm_words")
        temp = c[1].number_input("Temperature", 0.05, 5.0, 1.0, step=0.05, key="lm_temp",
                                 help="below 1: safer, more repetitive; above 1: more surprising")
        top_k = c[2].number_input("Top-k (0: all words)", 0, len(vocab), min(40, len(vocab)), key="lm_topk")
        seed = c[3].number_input("Seed", 0, 2**31 - 1, 0, key="lm_seed")
        go_ = st.form_submit_button("Generate", type="primary", icon=":material/auto_awesome:")
    if not go_ and "lm_generated" not in st.session_state:
        return
    if go_:
        with run.lock:
            out = T.generate(run.model, vocab, prompt, words=int(words), temperature=float(temp),
                             top_k=int(top_k) or None, seed=int(seed), steps=steps)
        st.session_state.lm_generated = (prompt, out)
    prompt, out = st.session_state.lm_generated
    _unknown_note(prompt, vocab)
    text = " ".join(out).replace(" <eos> ", "\n").replace("<eos>", "\n")
    with st.container(key="lm_generated_text", border=True):
        st.markdown(f"**{html.escape(prompt)}** " + html.escape(text).replace("\n", "  \n"), unsafe_allow_html=False)


def _next_word(run: LoadedRun, vocab: list[str], steps: int) -> None:
    sentence = st.text_input("Sentence", DEFAULT_SENTENCE.rsplit(" ", 4)[0], key="lm_next_text")
    _unknown_note(sentence, vocab)
    with run.lock:
        top = T.next_words(run.model, vocab, sentence, k=10, steps=steps)
    fig = go.Figure(go.Bar(x=[p for _, p in top][::-1], y=[w for w, _ in top][::-1], orientation="h",
                           text=[f"{p:.1%}" for _, p in top][::-1], textposition="outside"))
    fig.update_layout(title="The 10 most likely next words", xaxis_title="probability", height=380,
                      margin=dict(l=10, r=30, t=40, b=30), xaxis=dict(tickformat=".0%"))
    st.plotly_chart(fig, key="lm_next_chart", config={"displayModeBar": False})


def _surprise(run: LoadedRun, vocab: list[str], steps: int) -> None:
    sentence = st.text_area("Test sentence", DEFAULT_SENTENCE, key="lm_surprise_text", height=80)
    _unknown_note(sentence, vocab)
    with run.lock:
        scored = T.surprise(run.model, vocab, sentence, steps=steps)
    if not scored:
        st.info("Type a sentence to score.", icon=":material/edit:")
        return
    top = max(s for _, s in scored) or 1.0
    spans = []
    for w, s in scored:  # white (expected) to red (surprising); the loss in nats on hover
        a = min(1.0, s / max(top, 1e-9))
        spans.append(f'<span title="loss {s:.2f} nats · p = {pow(2.718281828, -s):.2%}" style="background: '
                     f'rgba(220, 38, 38, {a:.2f}); padding: 2px 4px; border-radius: 4px; margin: 2px; '
                     f'display: inline-block">{html.escape(w)}</span>')
    st.html(f'<div class="lm-surprise" style="line-height: 2.2; font-size: 1.1rem">{"".join(spans)}</div>')
    mean = sum(s for _, s in scored) / len(scored)
    st.caption(f"Mean loss {mean:.2f} nats per word (perplexity {pow(2.718281828, mean):,.1f}). Redder words "
               f"surprised the model more; hover a word for its loss.")


def _neighbours(run: LoadedRun, vocab: list[str]) -> None:
    word = st.text_input("Word", "president" if "president" in vocab else vocab[0], key="lm_nb_word")
    try:
        with run.lock:
            near = T.neighbours(run.model, vocab, word.strip(), k=10)
    except ValueError as e:
        st.warning(str(e), icon=":material/search_off:")
        return
    st.dataframe({"word": [w for w, _ in near], "cosine similarity": [round(s, 4) for _, s in near]},
                 hide_index=True, key="lm_nb_table")
