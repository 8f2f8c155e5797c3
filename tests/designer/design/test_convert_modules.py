"""What the Design page sends the canvas for a design with module instances: each instance is one node with its
output shape, parameter count, ports from its module, and the inner node named when it is in error.
(designer.design.convert is what the page calls; the page itself runs it through engine.check the same way.)"""
from __future__ import annotations

import engine
from designer.design.convert import canvas_data
from tests.engine.test_modules import small_design


def data_of(d: dict) -> dict:
    return canvas_data(d, engine.check(d), rev=0, ack=None, selected=None, select_nonce=0, can_undo=False,
                       can_redo=False)


def test_an_instance_is_one_node_with_its_shape_params_and_ports():
    d = small_design()
    data = data_of(d)
    u2 = next(n for n in data["nodes"] if n["id"] == "u2")
    r = engine.check(d)
    assert u2["op"] == "Unit" and u2["shape"] == "8×6×6" and u2["n_params"] == r.nodes["u2"].params
    assert u2["summary"] == "module · ch 8 · stride 2"
    assert data["ops"]["Unit"]["min_inputs"] == data["ops"]["Unit"]["max_inputs"] == 1
    assert data["ops"]["Unit"]["input_names"] == ["x"]
    assert [n["id"] for n in data["nodes"]] == [n["id"] for n in d["nodes"]]  # no inner node drawn
    assert "Conv2d" in data["ops"]  # the catalog's ops are still there


def test_a_broken_inner_shape_turns_the_instance_red_naming_the_inner_node():
    d = small_design()
    d["modules"]["Unit"]["nodes"][0]["params"]["kernel_size"] = 40
    nodes = {n["id"]: n for n in data_of(d)["nodes"]}
    assert nodes["u1"]["error"] and "inside Unit 'conv'" in nodes["u1"]["error"] and nodes["u1"]["shape"] is None
    assert nodes["u2"]["blocked"] and not nodes["u2"]["error"]
