"""The catalog as data: every op complete and documented, docs/layers.md equal to the generator's output."""
from __future__ import annotations

import json

import pytest

from engine.catalog import catalog_dict, get_op, list_ops, register_op
from engine.catalog.registry import PARAM_TYPES
from engine.cli import docs as docs_gen

REQUIRED = ["Input", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "GlobalMaxPool2d",
            "AdaptiveAvgPool2d", "MaxUnpool2d", "BedOfNailsUnpool2d", "NearestUnpool2d", "Upsample", "ReLU",
            "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Linear", "Flatten", "Reshape",
            "Dropout", "Dropout2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "LocalResponseNorm", "ZeroPad2d",
            "Add", "Concat", "Multiply", "Identity", "LSTM", "GRU", "Embedding", "ToSequence"]


def test_issue_ops_are_all_registered():
    missing = [op for op in REQUIRED if op not in list_ops()]
    assert not missing
    assert len(list_ops()) >= 30


@pytest.mark.parametrize("name", list_ops())
def test_op_is_complete(name):
    spec = get_op(name)
    assert spec.doc.strip() and spec.category in docs_gen.CATEGORY_ORDER
    assert spec.min_inputs >= 0 and (spec.max_inputs is None or spec.max_inputs >= spec.min_inputs)
    for p in spec.params:
        assert p.type in PARAM_TYPES and p.help.strip()
        if p.type == "choice":
            assert p.default in p.choices
    params, problems = spec.normalise({})
    if name == "MaxUnpool2d":  # the pool it undoes has no sensible default
        assert [e.field for e in problems] == ["pool"]
    else:
        assert not problems, [str(e) for e in problems]


def test_catalog_dict_is_json():
    d = json.loads(json.dumps(catalog_dict()))
    assert set(d) == set(list_ops())
    assert d["Conv2d"]["params"][0]["name"] == "out_channels"


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_op(get_op("Conv2d"))


def test_layers_md_is_generated_from_the_catalog():
    committed = docs_gen.DOC_PATH.read_text(encoding="utf-8")
    assert committed == docs_gen.render(), "docs/layers.md is stale: run python -m engine docs"
    for name in list_ops():
        assert f"### {name}\n" in committed


def test_docs_command_checks_and_writes(tmp_path, capsys):
    from engine.__main__ import main
    from engine.graph import schema_text

    assert main(["docs", "--check", "--out-dir", str(tmp_path)]) == 1
    assert "run python -m engine docs" in capsys.readouterr().err
    assert main(["docs", "--out-dir", str(tmp_path)]) == 0
    assert main(["docs", "--check", "--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "layers.md").read_text(encoding="utf-8") == docs_gen.render()
    assert (tmp_path / "graph.schema.json").read_text(encoding="utf-8") == schema_text()
