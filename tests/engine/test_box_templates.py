"""The box-task templates: their parameter counts are torch's, their outputs have the shapes the trainers need,
and scripts/make_templates.py reproduces the committed files."""
from __future__ import annotations

import json

import pytest
import torch

import engine
from engine.templates import INDEX, load_template
from tests.engine.test_templates import make_templates_script


@pytest.mark.parametrize("name, task, outputs, shapes, in_shape", [
    ("digit_localiser", "localisation", ["classes", "box"], [(10,), (4,)], (1, 56, 56)),
    ("tiny_grid_detector", "detection", ["head"], [(15, 6, 6)], (1, 96, 96)),
])
def test_box_templates(name, task, outputs, shapes, in_shape):
    g = load_template(name)
    r = engine.check(g)
    assert r.ok and g.task.kind == task and g.task.num_classes == 10 and g.outputs == outputs
    assert [r.nodes[o].shape for o in outputs] == shapes
    model = engine.build_module(g)
    count = sum(p.numel() for p in model.parameters())
    assert count == r.total_params == json.loads(INDEX.read_text())[name]["params"]
    with torch.no_grad():
        out = model.eval()(torch.rand(2, *in_shape))
    out = out if isinstance(out, tuple) else (out,)
    assert [tuple(o.shape[1:]) for o in out] == shapes
    assert make_templates_script().make(name).to_dict() == g.to_dict()
