"""The run's state on the Train page headless (AppTest): a run that diverged without a NaN says so, even when it
"finished"."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def state_app(status: dict) -> AppTest:
    def script():
        import streamlit as st

        from designer.train.live import _state

        _state("run", st.session_state.status)  # not queued: the run id is not looked up

    at = AppTest.from_function(script, default_timeout=60)
    at.session_state.status = status
    return at.run()


def test_a_diverged_run_shows_its_warning():
    warning = "the training diverged: the loss reached 1e+11 at step 2, more than 10× its starting value 2.3."
    at = state_app({"state": "finished", "message": "finished: accuracy 9.1%", "warning": warning})
    assert not at.exception
    assert [w.value for w in at.warning] == [warning]


def test_a_healthy_run_shows_no_warning():
    at = state_app({"state": "finished", "message": "finished: accuracy 97.0%", "warning": None})
    assert not at.exception and len(at.warning) == 0
