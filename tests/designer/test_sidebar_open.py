"""The sidebar's Open… an uploaded graph file: whatever the upload holds, the user gets a message (never a crash),
and its content is only ever parsed, never taken for the name of a file on the server."""
from __future__ import annotations

import json

import pytest

import designer.sidebar as sidebar
from tests.conftest import TEMPLATES


class Upload:
    """What st.file_uploader returns, as far as the sidebar reads it."""

    def __init__(self, data: bytes, name: str = "design.json"):
        self._data, self.name = data, name

    def getvalue(self) -> bytes:
        return self._data


@pytest.fixture
def opened(monkeypatch):
    """The graphs the sidebar would open (set_graph is the only way it changes the design)."""
    got: list[dict] = []
    monkeypatch.setattr(sidebar, "set_graph", got.append)
    monkeypatch.setattr(sidebar.st, "toast", lambda *a, **k: None)
    return got


def test_a_deeply_nested_upload_is_refused_with_the_limit(opened):
    text = '{"format": "convas-graph", "version": 1, "name": ' + "[" * 500 + "]" * 500 + ', "nodes": []}'
    message = sidebar._open_upload(Upload(text.encode()))
    assert "design.json was not opened" in message and "nest 501 deep" in message and "limit of 32" in message
    assert not opened


@pytest.mark.parametrize("content", ["/dev/zero", "SERVER_FILE", "a\x00b"])
def test_uploaded_text_is_never_read_as_a_path(opened, content):
    # a file on the server that is a valid graph: the upload names it, and must not open it
    content = content.replace("SERVER_FILE", str(TEMPLATES / "mnist_cnn.json"))
    assert json.loads((TEMPLATES / "mnist_cnn.json").read_text())["format"] == "convas-graph"
    message = sidebar._open_upload(Upload(content.encode()))
    assert message and "not a Convas graph file" in message and "not valid JSON" in message
    assert not opened


def test_a_good_upload_opens(opened):
    text = (TEMPLATES / "mnist_cnn.json").read_text(encoding="utf-8")
    assert sidebar._open_upload(Upload(text.encode())) is None
    assert [g["name"] for g in opened] == [json.loads(text)["name"]]
