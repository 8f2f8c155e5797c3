"""Optional access control, run headless by AppTest: with CONVAS_ACCESS_TOKEN set, a visitor sees only the token
form (and no workspace is made for them) until they give the token, by the form or by ?access=; without it the app
opens as always."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

TOKEN = "class-of-2026-token"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVAS_HOME", str(tmp_path))
    return tmp_path


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def test_a_token_is_asked_for_and_nothing_is_made_before_it(home, monkeypatch):
    monkeypatch.setenv("CONVAS_ACCESS_TOKEN", TOKEN)
    at = app().run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Access token"]
    assert not at.metric  # no design page
    assert not (home / "workspaces").exists()  # no workspace for a visitor who was not let in
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert "not this server's access token" in at.error[0].value
    assert not at.metric
    at.text_input[0].input(TOKEN)
    at.button[0].click().run()
    assert not at.exception
    assert at.metric and at.metric[0].label == "Parameters"  # the Design page
    assert (home / "workspaces").is_dir()


def test_an_access_link_lets_in_and_leaves_the_address_bar(home, monkeypatch):
    monkeypatch.setenv("CONVAS_ACCESS_TOKEN", TOKEN)
    at = app()
    at.query_params["access"] = TOKEN
    at.run()
    assert not at.exception and at.metric
    assert "access" not in at.query_params


def test_without_a_token_the_app_opens_as_always(home, monkeypatch):
    monkeypatch.delenv("CONVAS_ACCESS_TOKEN", raising=False)
    at = app().run()
    assert not at.exception
    assert at.metric and "Access token" not in [t.label for t in at.text_input]
