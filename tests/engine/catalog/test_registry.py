"""The catalog as data: every op complete and documented, docs/layers.md equal to the generator's output."""
from __future__ import annotations

import json

import pytest

from engine.catalog import catalog_dict, get_op, list_ops, register_op
from engine.catalog.categories import BLOCKS, CATEGORIES, category_names
from engine.catalog.registry import PARAM_TYPES, OpSpec, default_id_prefix
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
    assert spec.doc.strip() and spec.category in category_names() and spec.category != BLOCKS
    assert spec.id_prefix.isidentifier() and spec.id_prefix == spec.id_prefix.lower()
    if spec.width_param:
        assert spec.param(spec.width_param).type == "int"
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


def test_categories_are_data_with_one_order_for_palette_and_docs():
    from designer.design.palette import colour, palette

    names = category_names()
    assert len(set(names)) == len(names) and names[-1] == BLOCKS
    assert len({c.colour for c in CATEGORIES}) == len(CATEGORIES)  # every family tells itself apart on the canvas
    docs_order = [line[3:] for line in docs_gen.render().splitlines() if line.startswith("## ")][:-1]  # - blocks
    groups = [g for g in palette() if not g.get("pinned")]  # the most-used ops come first, then the categories
    palette_order = [g["category"] for g in groups]
    assert palette_order == [c for c in names if c in palette_order]
    assert docs_order == [c for c in palette_order if c != BLOCKS]
    assert all(g["colour"] == colour(g["category"]) for g in groups)


def _spec(**kw) -> OpSpec:
    base = {"name": "TestOnlyOp", "category": "Reshape", "doc": "x", "params": [], "infer": lambda p, ins: ins[0],
            "init": lambda c: None, "forward": lambda c: c.args[0]}
    return OpSpec(**{**base, **kw})


def test_register_refuses_an_unknown_category_a_bad_prefix_and_a_missing_width_param():
    with pytest.raises(KeyError, match="unknown category 'Misc'"):
        register_op(_spec(category="Misc"))
    with pytest.raises(ValueError, match="not an op category"):
        register_op(_spec(category=BLOCKS))
    with pytest.raises(ValueError, match="lower-case identifier"):
        register_op(_spec(id_prefix="Bad-Prefix"))
    with pytest.raises(KeyError):
        register_op(_spec(width_param="out_features"))
    assert "TestOnlyOp" not in list_ops()


def test_id_prefix_defaults_to_the_name_and_ops_may_choose_their_own():
    assert default_id_prefix("LeakyReLU") == "leakyrelu" and default_id_prefix("Dropout2d") == "dropout"
    assert _spec().id_prefix == "testonlyop"
    assert get_op("Conv2d").id_prefix == "conv" and get_op("Linear").id_prefix == "fc"
    assert catalog_dict()["ConvTranspose2d"]["id_prefix"] == "deconv"


def test_fx_mappings_are_declared_by_the_ops_and_claimed_once():
    import torch.nn as nn
    import torch.nn.functional as F

    from engine.fx.convert import FUNCTIONS, METHODS, MODULES

    conv = get_op("Conv2d")
    assert [(src.kind, src.targets) for src in conv.fx] == [("module", (nn.Conv2d,))]
    for name in list_ops():
        for src in get_op(name).fx:
            table = {"module": MODULES, "function": FUNCTIONS, "method": METHODS}[src.kind]
            for target in src.targets:
                assert table[target] is src.convert, (name, target)  # the importer uses the op's own converter
    assert FUNCTIONS[F.relu] is not FUNCTIONS[F.softmax]
