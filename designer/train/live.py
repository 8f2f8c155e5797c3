"""The live view of a run: status, Stop / Resume, progress with ETA, headline numbers and the curves.

It is a fragment that re-runs every second while the run is queued or running (only it, not the page), reading
the new lines of metrics.jsonl. When the run ends it asks for one full rerun, so the page shows the results and
the timer stops.
"""
from __future__ import annotations

import time

import streamlit as st

from designer.train import boxes, layers, plots, recommend
from designer.train.runs import STATE_COLOR, STATE_ICON, label, metrics, queue_place, run_dir
from engine.train import runs as R
from engine.train.rundir import ACTIVE, RunDir

REFRESH_S = 1.0


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _last(rows: list[dict], key: str) -> float | None:
    for r in reversed(rows):
        if r.get(key) is not None:
            return r[key]
    return None


def _progress(status: dict, rows: list[dict]) -> None:
    step, total = status.get("step") or 0, status.get("total_steps")
    elapsed = _last(rows, "elapsed")
    if not total:
        st.progress(0.0, text="starting…")
        return
    frac = min(1.0, step / total)
    eta = elapsed / step * (total - step) if elapsed and step and status.get("state") in ACTIVE else None
    parts = [f"step {step:,} / {total:,}", f"elapsed {_fmt_time(elapsed)}"]
    if eta is not None:
        parts.append(f"ETA {_fmt_time(eta)}")
    st.progress(frac, text=" · ".join(parts))


def _headline(rows: list[dict], status: dict, epochs: int | None) -> None:
    losses = [r["train_loss"] for r in rows if r.get("kind") == "step" and r.get("train_loss") is not None]
    c = st.columns(5)
    ep = _last(rows, "epoch")
    c[0].metric("Epoch", f"{ep:.2f}".rstrip("0").rstrip(".") + (f" / {epochs}" if epochs else "") if ep else "–",
                border=True)
    c[1].metric("Train loss", f"{losses[-1]:.4f}" if losses else "–", border=True)
    if any("train_ppl" in r for r in rows):  # a language model: perplexity and words / s
        vp, wps = _last(rows, "val_ppl"), _last(rows, "words_per_s")
        c[2].metric("Validation perplexity", f"{vp:,.1f}" if vp is not None else "–", border=True,
                    help="exp(mean loss per word) on the validation text, after each epoch; lower is better")
        c[3].metric("Words / s", f"{wps:,.0f}" if wps else "–", border=True)
        lr = _last(rows, "lr")
        c[4].metric("Learning rate", f"{lr:.2e}" if lr else "–", border=True)
        return
    if boxes.is_detector(rows):
        vm = _last(rows, "val_map50")
        c[2].metric("Validation mAP@0.5", f"{vm:.3f}" if vm is not None else "–", border=True,
                    help="on the validation split (carved from the training examples; it picks the best weights), after each "
                         "epoch (torchmetrics MeanAveragePrecision). The test split is measured once, at the end.")
    else:
        va = _last(rows, "val_acc")
        c[2].metric("Validation accuracy", f"{va:.2%}" if va is not None else "–", border=True,
                    help="on the validation split (carved from the training examples; it picks the best weights), "
                         "after each epoch. The test split is measured once, at the end.")
    ips = _last(rows, "images_per_s")
    c[3].metric("Images / s", f"{ips:,.0f}" if ips else "–", border=True)
    lr = _last(rows, "lr")
    c[4].metric("Learning rate", f"{lr:.2e}" if lr else "–", border=True)


def _charts(runs: dict[str, list[dict]], epochs: float | None) -> None:
    if recommend.is_recommender(runs):
        recommend.charts(runs, epochs)
        return
    cfg = {"displayModeBar": False}
    left, right = st.columns(2)
    if any("train_ppl" in r for rows in runs.values() for r in rows):  # a language model
        left.plotly_chart(plots.curves(runs, "loss", "Loss", epochs=epochs), key="chart_loss", config=cfg)
        ppl = plots.curves(runs, "ppl", "Perplexity", epochs=epochs)
        ppl.update_yaxes(type="log")
        right.plotly_chart(ppl, key="chart_ppl", config=cfg)
        left.plotly_chart(plots.single(runs, "lr", "Learning rate", "lr", log=True, epochs=epochs), key="chart_lr",
                          config=cfg)
        right.plotly_chart(plots.single(runs, "words_per_s", "Throughput", "words / s", epochs=epochs),
                           key="chart_speed", config=cfg)
        return
    left.plotly_chart(plots.curves(runs, "loss", "Loss", epochs=epochs), key="chart_loss", config=cfg)
    right.plotly_chart(boxes.headline_chart(runs, epochs), key="chart_acc", config=cfg)
    left.plotly_chart(plots.single(runs, "lr", "Learning rate", "lr", log=True, epochs=epochs), key="chart_lr",
                      config=cfg)
    right.plotly_chart(plots.single(runs, "images_per_s", "Throughput", "images / s", epochs=epochs),
                       key="chart_speed", config=cfg)
    if any(boxes.is_box_run(rows) for rows in runs.values()):
        left.plotly_chart(boxes.loss_parts(runs, epochs), key="chart_parts", config=cfg)
        right.plotly_chart(boxes.box_metrics(runs, epochs), key="chart_boxes", config=cfg)


def render_controls(run_id: str, state: str | None) -> None:
    """Stop while the run is live, Resume when it stopped or failed with a checkpoint. Drawn by the full script
    run (not the fragment): a click always lands, and the fragment asks for a full run when the state changes."""
    if state in ACTIVE:
        if st.button("Stop", icon=":material/stop_circle:", key=f"stop_{run_id}", width="stretch",
                     help="The trainer finishes its step, saves a checkpoint and stops; Resume continues."):
            R.stop_run(run_dir(run_id))
            st.toast("Stopping: the trainer saves a checkpoint first.", icon=":material/stop_circle:")
    elif state in ("stopped", "failed") and _resumable(run_id, state):
        lr = _resume_lr(run_id)
        if st.button("Resume", icon=":material/play_arrow:", key=f"resume_{run_id}", type="primary",
                     width="stretch", help="Continue from the last checkpoint"):
            try:
                _wait_for_exit(run_id)
                R.resume_run(run_dir(run_id), lr=lr)
            except (RuntimeError, FileNotFoundError, ValueError) as e:
                st.toast(str(e), icon=":material/error:")
            else:
                st.rerun()  # the page refreshes live again


def _resume_lr(run_id: str) -> float | None:
    """The learning rate to resume with (engine.train.runs.override_lr), e.g. a lower one after the loss became
    NaN: the run's own (its config's, as the form sets it: the schedule's peak) unless the user changes it. None
    when unchanged, so the resume is exact. The trainer keeps the schedule's shape around the new value."""
    run = run_dir(run_id)
    try:
        lr = run.config().lr
    except (OSError, ValueError, TypeError):  # an unreadable config: the resume itself says why
        return None
    rows = metrics(run_id)
    now = next((r["lr"] for r in reversed(rows) if r.get("lr")), None)
    at = f" (at the stop the schedule had it at {now:.3g})" if now is not None and now != lr else ""
    new = st.number_input("Learning rate to continue with", min(1e-6, lr), 10.0, float(lr), format="%.4g",
                          key=f"resume_lr_{run_id}",
                          help=f"The run's learning rate is {lr:g}{at}. Change it to continue with another one (the "
                               f"schedule keeps its shape); the rest of the settings stay the run's own.")
    return None if new == lr else float(new)


def _state(run_id: str, status: dict) -> None:
    state = status.get("state")
    place = queue_place(run_id) if state == "queued" and status.get("waiting") else None
    with st.container(key="run_state"):
        st.badge(state or "unknown", icon=STATE_ICON.get(state), color=STATE_COLOR.get(state, "gray"))
        if place is not None:
            eta = f" · starts in about {_fmt_time(place.eta_s)}" if place.eta_s is not None else ""
            st.caption(f"Position {place.position} of {place.waiting} in the queue{eta}. The server trains a few "
                       f"runs at a time; Stop takes this one out of the queue.")
        elif status.get("message") and state != "failed":
            st.caption(status["message"])
    if state == "failed":
        st.error(status.get("message") or f"the run failed; see {RunDir.LOG} in its folder.", icon=":material/error:")
    if status.get("warning"):  # e.g. the loss diverged without a NaN: the run may "finish" having learnt nothing
        st.warning(status["warning"], icon=":material/warning:")


def _wait_for_exit(run_id: str, timeout_s: float = 30.0) -> None:
    """A trainer writes "stopped" before it has closed its files and exited; resuming waits for that."""
    deadline = time.monotonic() + timeout_s
    while run_dir(run_id).is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)


def _resumable(run_id: str, state: str) -> bool:
    """From its last checkpoint; or from the start when it was stopped before training (in the queue)."""
    run = run_dir(run_id)
    return run.has_checkpoint() or (state == "stopped" and not run.status().get("step") and run.problem() is None)


def render_live(focus: str, focus_run: dict, compare: list[dict]) -> None:
    """The fragment for the focused run (plus the runs overlaid on its charts)."""
    active = focus_run["status"] in ACTIVE
    st.session_state.live_was_active = active

    @st.fragment(run_every=REFRESH_S if active else None)
    def live() -> None:
        status = run_dir(focus).status()
        if st.session_state.get("live_was_active") and status.get("state") not in ACTIVE:
            st.session_state.live_was_active = False
            st.rerun(scope="app")  # once: show the results and the right buttons, and stop refreshing
        rows = metrics(focus)
        _state(focus, status)
        if not rows and status.get("state") not in ACTIVE:
            return  # it ended before its first numbers (a refused input): the message above says why
        _progress(status, rows)
        _headline(rows, status, focus_run.get("epochs"))
        runs = {label(focus_run): rows}
        runs.update({label(r): metrics(r["id"]) for r in compare})
        epochs = max([r.get("epochs") or 0 for r in [focus_run, *compare]]) or None
        if any(runs.values()):
            _charts(runs, epochs)
            layers.render_layers(focus)  # per-layer diagnostics, warnings and remedies (designer.train.layers)
        else:
            st.info("Waiting for the first numbers from the trainer…", icon=":material/hourglass_top:")

    live()
