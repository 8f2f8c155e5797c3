"""python -m engine module: the Design page's module edits on a graph file, written atomically; a refused edit
leaves the file as it was. engine.check and the exported source are the oracles."""
from __future__ import annotations

import json

import engine
from engine.__main__ import main
from engine.reflow import inner_height
from tests.designer.design.test_session_modules import laid
from tests.engine.test_modules import small_design
from tests.engine.test_reflow import overlaps, positions


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_rename_make_detach_inline_on_a_file(tmp_path, capsys):
    path = tmp_path / "units.json"
    path.write_text(json.dumps(small_design()), encoding="utf-8")
    before = engine.check(small_design())
    code, out, _ = run(capsys, "module", "list", path)
    assert code == 0 and "Unit(ch=8, stride=1): 3 layers (conv, bn, act); 3 instance(s): u1, u2, u3" in out

    code, out, _ = run(capsys, "module", "rename", path, "Unit", "ConvUnit")  # in place
    g = json.loads(path.read_text(encoding="utf-8"))
    assert code == 0 and "wrote" in out and list(g["modules"]) == ["ConvUnit"]
    assert "class ConvUnit(nn.Module)" in engine.to_python(g)

    code, out, _ = run(capsys, "module", "make", path, "Tail", "pool", "flat", "-o", tmp_path / "made.json")
    made = json.loads((tmp_path / "made.json").read_text(encoding="utf-8"))
    assert code == 0 and [n["op"] for n in made["nodes"]].count("Tail") == 1
    assert run(capsys, "module", "detach", tmp_path / "made.json", "u2")[0] == 0
    assert run(capsys, "module", "inline", tmp_path / "made.json", "u1")[0] == 0
    final = json.loads((tmp_path / "made.json").read_text(encoding="utf-8"))
    assert {n["op"] for n in final["nodes"]} >= {"ConvUnit", "ConvUnit_2", "Tail", "Conv2d"}
    after = engine.check(final)
    assert after.ok and after.total_params == before.total_params
    assert after.nodes["fc"].shape == before.nodes["fc"].shape


def test_a_refused_edit_says_why_and_leaves_the_file(tmp_path, capsys):
    path = tmp_path / "units.json"
    path.write_text(json.dumps(small_design()), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    code, _, err = run(capsys, "module", "rename", path, "Unit", "Net")
    assert code == 2 and "name the exported file uses" in err
    code, _, err = run(capsys, "module", "detach", path, "stem")
    assert code == 2 and "'stem' is not a module instance" in err
    code, _, err = run(capsys, "module", "list", tmp_path / "missing.json")
    assert code == 2 and "cannot read graph file" in err
    assert path.read_text(encoding="utf-8") == text


def test_expand_and_collapse_on_a_file_make_room_below_the_instance(tmp_path, capsys):
    g = laid(small_design())
    path = tmp_path / "units.json"
    path.write_text(json.dumps(g), encoding="utf-8")
    code, out, _ = run(capsys, "module", "expand", path, "u1")
    e = json.loads(path.read_text(encoding="utf-8"))
    assert code == 0 and "wrote" in out and not overlaps(e)
    assert positions(e)["u2"][1] == positions(g)["u2"][1] + inner_height(3)
    assert positions(e)["stem"] == positions(g)["stem"]
    assert run(capsys, "module", "collapse", path, "u1")[0] == 0
    assert positions(json.loads(path.read_text(encoding="utf-8"))) == positions(g)
    code, _, err = run(capsys, "module", "expand", path, "stem")
    assert code == 2 and "not a module instance" in err
