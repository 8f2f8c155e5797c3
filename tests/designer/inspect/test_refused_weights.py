"""Inspect headless (AppTest): a run whose weights file is refused shows why, in our words, not a traceback."""
from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from tests.engine.train.test_trainer import SMALL


def test_a_refused_weights_file_reads_as_a_message(tmp_path):
    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    (run / "graph.json").write_text(json.dumps(SMALL))
    (run / "checkpoints" / "best.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")

    def script():
        import streamlit as st

        from designer.inspect.views import pick_run

        pick_run(st.session_state.runs)

    at = AppTest.from_function(script, default_timeout=60)
    at.session_state.runs = [{"id": "r", "name": "r", "created": 0, "path": str(run), "status": "finished",
                              "best_val_acc": None}]
    at.run()
    assert not at.exception
    (err,) = at.error
    assert "best.safetensors is not a Convas checkpoint and was not loaded" in err.value
    assert "weights_only" not in err.value
