"""One-click fixes: each offered fix has a title, and applying it makes its error go away."""
from __future__ import annotations

import copy

import pytest
import torch

import engine
from engine.fixes import apply_fix, suggest_fixes


def doc(*nodes: dict, outputs: list[str], shape=(3, 8, 8)) -> dict:
    return {"format": "convas-graph", "version": 1,
            "nodes": [{"id": "input", "op": "Input", "params": {"shape": list(shape)}, "ui": {"x": 0, "y": 0}},
                      *nodes], "outputs": outputs}


LINEAR_ON_IMAGE = doc({"id": "conv1", "op": "Conv2d", "params": {"out_channels": 4, "padding": 1}, "inputs": ["input"],
                       "ui": {"x": 0, "y": 100}},
                      {"id": "fc1", "op": "Linear", "params": {"out_features": 10}, "inputs": ["conv1"],
                       "ui": {"x": 40, "y": 300}}, outputs=["fc1"])
ADD_CHANNELS = doc({"id": "conv1", "op": "Conv2d", "params": {"out_channels": 16, "padding": "same"},
                    "inputs": ["input"], "ui": {"x": 200, "y": 100}},
                   {"id": "add1", "op": "Add", "inputs": ["conv1", "input"], "ui": {"x": 100, "y": 200}},
                   outputs=["add1"])
KERNEL_TOO_BIG = doc({"id": "conv3", "op": "Conv2d", "params": {"out_channels": 4, "kernel_size": 5},
                      "inputs": ["input"]}, outputs=["conv3"], shape=(1, 4, 4))


def only_fix(g) -> dict:
    fixes = suggest_fixes(g)
    assert len(fixes) == 1, fixes
    return fixes[0]


def errors_at(g, node: str) -> list[str]:
    return [e.message for e in engine.check(g).errors if e.node == node]


def test_linear_fed_an_image_gets_a_flatten():
    fix = only_fix(LINEAR_ON_IMAGE)
    assert fix["title"] == "Insert Flatten before fc1"
    assert fix["kind"] == "insert_before" and fix["op"] == "Flatten" and fix["node"] == "fc1"
    g = apply_fix(LINEAR_ON_IMAGE, fix)
    r = engine.check(g)
    assert r.ok, r.errors
    new = g.node("flatten_fc1")
    assert new.op == "Flatten" and new.inputs == ["conv1"] and g.node("fc1").inputs == ["flatten_fc1"]
    assert (new.ui.x, new.ui.y) == (20, 200)  # halfway between conv1 and fc1
    assert r.nodes["fc1"].shape == (10,) and r.nodes["fc1"].params == 4 * 8 * 8 * 10 + 10
    assert g.ids().index("flatten_fc1") < g.ids().index("fc1")


def test_add_with_mismatched_channels_gets_a_projection_on_the_offending_input():
    fix = only_fix(ADD_CHANNELS)
    assert fix["title"] == "Insert a 1×1 Conv2d with 16 filters on input 2 of add1"
    assert fix["input"] == 1 and fix["params"]["out_channels"] == 16
    g = apply_fix(ADD_CHANNELS, fix)
    r = engine.check(g)
    assert r.ok, r.errors
    proj = g.node(g.node("add1").inputs[1])
    assert proj.op == "Conv2d" and proj.inputs == ["input"] and g.node("add1").inputs[0] == "conv1"
    assert (proj.ui.x, proj.ui.y) == (50, 100)  # halfway between input (0, 0) and add1 (100, 200)
    assert r.nodes[proj.id].params == 3 * 16  # 1×1, no bias
    assert engine.build_module(g)(torch.randn(2, 3, 8, 8)).shape == (2, 16, 8, 8)


def test_kernel_larger_than_its_input_gets_same_padding_or_the_largest_kernel_that_fits():
    same, largest = suggest_fixes(KERNEL_TOO_BIG)
    assert same["title"] == "Set padding of conv3 to 'same'"
    assert largest["title"] == "Set kernel_size of conv3 to 4 (the largest that fits)"
    assert errors_at(KERNEL_TOO_BIG, "conv3")
    g = apply_fix(KERNEL_TOO_BIG, same)
    assert errors_at(g, "conv3") == [] and engine.check(g).nodes["conv3"].shape == (4, 4, 4)
    g = apply_fix(KERNEL_TOO_BIG, largest)  # what the message suggests: a smaller kernel, not a padded 5×5
    r = engine.check(g)
    assert r.ok and r.nodes["conv3"].shape == (4, 1, 1) and r.nodes["conv3"].params == 4 * 4 * 4 + 4


@pytest.mark.parametrize("params, shape, kernel", [
    ({"kernel_size": 40}, (1, 28, 28), 28),  # the issue's case: 16 filters of 40×40 padded 'same' = 25,616 params
    ({"kernel_size": 40}, (3, 28, 10), [28, 10]),  # each axis its own largest
    ({"kernel_size": [5, 40]}, (3, 28, 28), [5, 28]),  # an axis that fits keeps its size
    ({"kernel_size": 40, "padding": 2}, (1, 28, 28), 32),  # the padding is kept and counts
    ({"kernel_size": 20, "dilation": 3}, (1, 28, 28), 10),  # dilated: 3·(10−1)+1 = 28
])
def test_the_largest_kernel_that_fits_matches_torch(params, shape, kernel):
    g = doc({"id": "conv", "op": "Conv2d", "params": {"out_channels": 16, **params}, "inputs": ["input"]},
            outputs=["conv"], shape=shape)
    fix = next(f for f in suggest_fixes(g) if f["param"] == "kernel_size")
    assert fix["value"] == kernel
    fixed = apply_fix(g, fix)
    r = engine.check(fixed)
    assert r.ok, r.errors
    m = engine.build_module(fixed)
    assert r.nodes["conv"].params == sum(p.numel() for p in m.parameters())
    y = m(torch.randn(2, *shape))
    assert tuple(y.shape[1:]) == r.nodes["conv"].shape and y.shape[2] >= 1 and y.shape[3] >= 1
    k = [kernel, kernel] if isinstance(kernel, int) else kernel
    asked = params["kernel_size"] if isinstance(params["kernel_size"], list) else [params["kernel_size"]] * 2
    for axis in (0, 1):  # the largest: one more on an axis it shrank no longer fits
        if k[axis] < asked[axis]:
            one_more = [k[0] + (axis == 0), k[1] + (axis == 1)]
            assert not engine.check(apply_fix(g, {**fix, "value": one_more})).ok


@pytest.mark.parametrize("g", [LINEAR_ON_IMAGE, ADD_CHANNELS, KERNEL_TOO_BIG], ids=["flatten", "project", "pad"])
def test_every_offered_fix_has_a_title_and_removes_its_error(g):
    before = copy.deepcopy(g)
    for fix in suggest_fixes(g):
        assert fix["title"] and fix["node"] and fix["issue"]
        assert fix["issue"] in errors_at(g, fix["node"])
        assert fix["issue"] not in errors_at(apply_fix(g, fix), fix["node"])
    assert g == before  # neither suggesting nor applying changes the graph given


def test_fixes_for_several_errors_at_once_and_applied_in_turn():
    g = doc({"id": "conv1", "op": "Conv2d", "params": {"out_channels": 16, "padding": "same"}, "inputs": ["input"]},
            {"id": "add1", "op": "Add", "inputs": ["conv1", "input"]},
            {"id": "big", "op": "Conv2d", "params": {"out_channels": 2, "kernel_size": 9}, "inputs": ["add1"]},
            {"id": "fc", "op": "Linear", "inputs": ["conv1"]}, outputs=["big", "fc"])
    titles = [f["title"] for f in suggest_fixes(g)]
    assert titles == ["Insert a 1×1 Conv2d with 16 filters on input 2 of add1", "Insert Flatten before fc"]
    for _ in range(5):  # fixing add1 unblocks big, whose own fix is offered next
        fixes = suggest_fixes(g)
        if not fixes:
            break
        g = apply_fix(g, fixes[0])
    assert engine.check(g).ok


def test_new_ids_are_unique():
    g = copy.deepcopy(LINEAR_ON_IMAGE)
    g["nodes"].insert(1, {"id": "flatten_fc1", "op": "ReLU", "inputs": ["input"]})
    g["outputs"].append("flatten_fc1")
    fixed = apply_fix(g, only_fix(g))
    assert "flatten_fc1_2" in fixed.ids() and len(set(fixed.ids())) == len(fixed.ids())
    assert engine.check(fixed).ok


def test_positions_when_only_one_or_neither_node_has_one():
    g = copy.deepcopy(LINEAR_ON_IMAGE)
    del g["nodes"][1]["ui"]
    new = apply_fix(g, only_fix(g)).node("flatten_fc1")
    assert (new.ui.x, new.ui.y) == (80, 260)  # beside fc1, above it
    del g["nodes"][2]["ui"]
    assert apply_fix(g, only_fix(g)).node("flatten_fc1").ui is None


def test_errors_without_a_remedy_offer_nothing_and_bad_fixes_are_refused():
    g = doc({"id": "pool", "op": "MaxPool2d", "params": {"kernel_size": 9}, "inputs": ["input"]}, outputs=["pool"])
    assert not engine.check(g).ok and suggest_fixes(g) == []
    with pytest.raises(ValueError, match="unknown fix kind"):
        apply_fix(g, {"kind": "delete_everything", "node": "pool"})
    with pytest.raises(KeyError):
        apply_fix(g, {"kind": "set_param", "node": "nope", "param": "padding", "value": 1})


# ---- each fix is proved on its node's neighbourhood, not by re-checking the whole graph ------------------------

def whole_graph_fixes(g) -> list[str]:
    """The oracle: what suggest_fixes offered when it re-checked the whole graph once per fixable error."""
    out = []
    for issue in engine.check(g).errors:
        if not (issue.fix and issue.node):
            continue
        for offered in issue.fix if isinstance(issue.fix, list) else [issue.fix]:
            try:
                fixed = engine.check(apply_fix(g, {**offered, "node": issue.node}))
            except (KeyError, IndexError, ValueError, TypeError):
                continue
            if not any(e.node == issue.node and e.message == issue.message for e in fixed.errors):
                out.append(issue.message)
    return out


def long_chain(n: int) -> dict:
    """n same-padded convs, then three fixable errors: Add with mismatched channels, Linear on an image, and a
    PixelShuffle whose channels do not split into 2×2 blocks."""
    nodes = [{"id": f"c{i}", "op": "Conv2d", "params": {"out_channels": 4, "padding": "same"},
              "inputs": [f"c{i - 1}" if i else "input"]} for i in range(n)]
    last = f"c{n - 1}"
    nodes += [{"id": "add", "op": "Add", "inputs": [last, "input", last]},
              {"id": "fc", "op": "Linear", "inputs": [last]},
              {"id": "ps", "op": "PixelShuffle", "inputs": ["input"]}]
    return doc(*nodes, outputs=["add", "fc", "ps"])


UNSHUFFLED = doc({"id": "ps", "op": "PixelShuffle", "params": {"upscale_factor": 3}, "inputs": ["input"]},
                 outputs=["ps"], shape=(5, 4, 4))
# an Input may not be wider than 100000, so this input cannot be stood in for: the whole graph is checked instead
WIDE = doc({"id": "up", "op": "Upsample", "params": {"scale_factor": 2.0}, "inputs": ["input"]},
           {"id": "fc", "op": "Linear", "params": {"out_features": 3}, "inputs": ["up"]},
           outputs=["fc"], shape=(1, 4, 60000))


@pytest.mark.parametrize("g", [LINEAR_ON_IMAGE, ADD_CHANNELS, KERNEL_TOO_BIG, UNSHUFFLED, WIDE, long_chain(12)],
                         ids=["flatten", "project", "pad", "shuffle", "wide", "chain"])
def test_fixes_offered_are_those_the_whole_graph_check_accepts(g):
    assert [f["issue"] for f in suggest_fixes(g)] == whole_graph_fixes(g)


def test_pixel_shuffle_gets_a_conv_to_a_multiple_of_r_squared_channels():
    fix = only_fix(UNSHUFFLED)
    assert fix["title"] == "Insert a 1×1 Conv2d with 9 filters before ps"
    r = engine.check(apply_fix(UNSHUFFLED, fix))
    assert r.ok and r.nodes["ps"].shape == (1, 12, 12)


def test_each_fix_is_proved_on_a_graph_of_its_node_and_inputs(monkeypatch):
    import engine.fixes as fixes

    sizes = []
    real_check = fixes.check
    monkeypatch.setattr(fixes, "check", lambda g: sizes.append(len(fixes._as_graph(g).nodes)) or real_check(g))
    g = long_chain(60)
    assert len(suggest_fixes(g)) == 3
    assert sizes[0] == 64 and max(sizes[1:]) <= 4, sizes  # one whole check for the report, then tiny ones
    sizes.clear()
    assert len(suggest_fixes(WIDE)) == 1
    assert sizes == [3, 2, 4]  # the report; a stand-in that cannot reproduce the error; the whole graph, fixed
