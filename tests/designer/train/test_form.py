"""The Train form headless (Streamlit's AppTest): Start hands back a validated TrainConfig, or every problem and no
config, so the page checks nothing again."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from engine.train.config import TrainConfig


def form_app() -> AppTest:
    def script():
        import streamlit as st

        from designer.train.form import render_form

        graph = {"task": {"kind": "classification", "num_classes": 10}}
        submitted = render_form(graph, can_start=True)
        if submitted is not None:
            st.session_state.submitted = submitted

    return AppTest.from_function(script, default_timeout=60).run()


def start(at: AppTest) -> AppTest:
    (button,) = [b for b in at.button if b.label == "Start training"]
    return button.click().run()


def test_start_gives_a_valid_train_config_with_the_forms_values():
    at = form_app()
    assert not at.exception and "submitted" not in at.session_state
    at.number_input(key="tf_epochs").set_value(3)
    at.selectbox(key="tf_opt").set_value("sgd")
    at.checkbox(key="tf_nest").check()
    at = start(at)
    assert not at.exception
    s = at.session_state.submitted
    assert s.problems == [] and isinstance(s.config, TrainConfig)
    assert s.config == TrainConfig(epochs=3, optimizer="sgd", nesterov=True, log_every=10)  # the app logs every 10
    assert s.task == {"kind": "classification", "num_classes": 10}
    assert at.session_state.train_config == s.config.to_dict()  # what the form shows next time


def test_start_with_bad_settings_gives_every_problem_and_no_config():
    at = form_app()
    at.checkbox(key="tf_nest").check()  # Nesterov needs SGD; the optimiser stays Adam
    at = start(at)
    s = at.session_state.submitted
    assert s.config is None
    assert s.problems == ["nesterov needs optimizer sgd with momentum > 0. Received: nesterov=True."]
    assert at.session_state.train_config["nesterov"] is True  # kept, so the form still shows what was typed


def test_on_a_machine_with_two_gpus_the_form_uses_the_gpu_defaults_and_offers_both_gpus():
    def script():
        from unittest import mock

        import streamlit as st

        from designer.train.form import render_form

        with mock.patch("torch.cuda.is_available", return_value=True), \
                mock.patch("torch.cuda.device_count", return_value=2):
            submitted = render_form({"task": {"kind": "classification", "num_classes": 10}}, can_start=True)
        if submitted is not None:
            st.session_state.submitted = submitted

    at = AppTest.from_function(script, default_timeout=60).run()
    assert not at.exception
    assert at.number_input(key="tf_bs").value == 512
    assert any("On a GPU the default batch size is 512" in c.value for c in at.caption)
    at.number_input(key="tf_nproc").set_value(2)
    at.checkbox(key="tf_fast").check()
    at = start(at)
    s = at.session_state.submitted
    assert s.problems == [] and s.config.batch_size == 512 and s.config.nproc == 2 and s.config.fast


def test_on_a_cpu_the_form_keeps_the_cpu_defaults_and_offers_no_gpu_choice():
    at = form_app()
    assert at.number_input(key="tf_bs").value == 128
    assert not [n for n in at.number_input if n.key == "tf_nproc"]
    assert not any("On a GPU" in c.value for c in at.caption)
