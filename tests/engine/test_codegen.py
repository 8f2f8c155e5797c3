"""Compile = export: byte-identical source, hostile ids and names that never become code, a standalone file."""
from __future__ import annotations

import ast
import keyword
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import engine
from engine.codegen import Namespace, build_module, node_names, to_python
from engine.errors import GraphError
from engine.graph import load_graph

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [p for p in sorted((ROOT / "assets" / "templates").glob("*.json")) if p.name != "index.json"]
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

HOSTILE = ["x; import os", "__import__('os')", "class", "1abc", "forward", "training", "self", "F", "torch", "nn",
           "卷积1", "café", "a-b", "a_b", "a b", "eval", "state_dict", "convas_source", "__init__", "__class__",
           "None", "print", "exec", "lambda", "os.system('rm -rf /')", "\"\"\"", "'); import os; ('", "\n\r\\",
           "build", "Net", "super", "_", "x" * 5000, "x" * 5000 + "y", "match", "type"]


def hostile_graph(name: str = "hostile") -> dict:
    """Every hostile id once, as a conv/relu chain with a residual Add and a Concat, ending in a classifier."""
    nodes = [{"id": "input", "op": "Input", "params": {"shape": [2, 6, 6]}}]
    prev = "input"
    for i, nid in enumerate(HOSTILE):
        if i % 2:
            nodes.append({"id": nid, "op": "ReLU", "inputs": [prev]})
        else:
            nodes.append({"id": nid, "op": "Conv2d", "params": {"out_channels": 2, "padding": "same"}, "inputs": [prev]})
        prev = nid
    nodes += [{"id": "+", "op": "Add", "inputs": [prev, "input"]},
              {"id": "++", "op": "Concat", "inputs": ["+", HOSTILE[0]]},
              {"id": "flat ten", "op": "Flatten", "inputs": ["++"]},
              {"id": "ŷ", "op": "Linear", "params": {"out_features": 3}, "inputs": ["flat ten"]}]
    return {"format": "convas-graph", "version": 1, "name": name, "nodes": nodes, "outputs": ["ŷ", "++"]}


# ---- the same graph gives the same bytes -----------------------------------------------------------------------

@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_same_graph_same_source(path):
    assert to_python(path) == to_python(load_graph(path)) == to_python(path.read_text(encoding="utf-8"))


def test_source_is_byte_identical_across_fresh_processes():
    script = "import sys, engine; sys.stdout.write(engine.to_python(sys.argv[1]))"
    graph = ROOT / "assets" / "templates" / "mnist_rmsprop_cnn.json"
    outs = []
    for seed in ("1", "2"):  # different string hashing: set or dict-order accidents would show
        env = {**os.environ, "PYTHONHASHSEED": seed}
        res = subprocess.run([sys.executable, "-c", script, str(graph)], capture_output=True, cwd=ROOT, env=env,
                             check=True)
        outs.append(res.stdout)
    assert outs[0] == outs[1] == to_python(graph).encode()


def test_source_is_readable():
    src = to_python(ROOT / "assets" / "templates" / "mnist_cnn.json")
    assert "class Net(nn.Module):" in src and "def forward(self, input_):" in src
    assert "self.conv1 = nn.Conv2d(1, 32, kernel_size=(5, 5), padding=(2, 2))" in src
    assert "conv1 = self.conv1(input_)  # (B, 32, 28, 28)" in src
    assert all(len(line) < 160 for line in src.splitlines())


# ---- hostile ids and names --------------------------------------------------------------------------------------

ALLOWED_GLOBALS = {"torch", "nn", "F", "self", "super", "float", "Net", "build"}


def assert_safe(src: str, names: set[str]) -> ast.Module:
    """Parse the source and check that every identifier in it is sanitised and accounted for."""
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert all(m == "torch" or m.startswith("torch.") for m in mods), ast.dump(node)
        ident = (node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute)
                 else node.arg if isinstance(node, ast.arg) else node.name if isinstance(node, (ast.FunctionDef,
                                                                                                ast.ClassDef))
                 else None)
        if ident is not None:
            assert IDENT.match(ident) and ident.isascii() and not keyword.iskeyword(ident), ident
        if isinstance(node, ast.Name):
            assert node.id in ALLOWED_GLOBALS | names, f"unexpected name {node.id!r}"
        if isinstance(node, ast.Call):  # every call goes through a trusted root
            root = node.func
            while isinstance(root, (ast.Attribute, ast.Call)):  # super().__init__, self.x(y)
                root = root.value if isinstance(root, ast.Attribute) else root.func
            assert isinstance(root, ast.Name) and root.id in ALLOWED_GLOBALS, ast.dump(node.func)
        assert not isinstance(node, (ast.Lambda, ast.Global, ast.Nonlocal, ast.Delete)), ast.dump(node)
    body = tree.body
    assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)  # the docstring
    assert [type(s).__name__ for s in body[1:]] == ["Import", "ImportFrom", "Import", "ClassDef", "FunctionDef"]
    return tree


def without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            node.body = node.body[1:] or [ast.Pass()]
    return tree


def test_hostile_ids_never_reach_the_source_as_code():
    g = load_graph(hostile_graph())
    names = node_names(g)
    src = to_python(g)
    assert_safe(src, set(names.values()))
    assert len(set(names.values())) == len(names), "two nodes share a name"
    code = ast.unparse(without_docstrings(ast.parse(src)))
    for nid, name in names.items():
        assert IDENT.match(name) and len(name) <= 70, (nid, name)
        if len(nid) > 1 and re.search(r"[^A-Za-z0-9_]", nid):  # could be code: must not appear verbatim
            assert nid not in code, f"raw id {nid!r} appears in the source"
    assert names["a-b"] != names["a_b"] != names["a b"] != names["a-b"]
    assert names["x" * 5000] != names["x" * 5000 + "y"]
    for nid in ("class", "forward", "training", "self", "F", "torch", "eval", "convas_source", "Net", "type"):
        assert names[nid] != nid, nid
    assert names["café"] == "cafe" and names["1abc"] == "_1abc"


def test_hostile_ids_build_and_run():
    g = hostile_graph()
    m = build_module(g)
    m.eval()  # would fail with a layer called `training`
    m.train()
    y, cat = m(torch.randn(4, 2, 6, 6))
    assert y.shape == (4, 3) and cat.shape == (4, 4, 6, 6)
    assert sum(p.numel() for p in m.parameters()) == engine.check(g).total_params
    assert isinstance(m.convas_source, str)
    m.load_state_dict(build_module(g).state_dict())


@pytest.mark.parametrize("name", ['"""; import os; os.system("x"); """', "\\", "a\\\nimport os", "\u2028import os",
                                  "x' + __import__('os').name + '", "卷积网络 café ŷ", "\x00\x1b[31m", "''' '''"])
def test_hostile_design_names_stay_inside_the_docstring(name):
    g = hostile_graph(name)
    src = to_python(g)
    tree = assert_safe(src, set(node_names(load_graph(g)).values()))
    shown = "".join(c if c.isprintable() and c not in '"\\' else "?" for c in name)  # quotes, backslashes, controls
    assert ast.get_docstring(tree).splitlines()[0] == f"{shown} — generated by Convas from a graph file."
    build_module(g)


def test_hostile_parameter_strings_are_refused_by_every_op():
    """String-valued parameters (choices, padding modes) come from the catalog's fixed lists, never from the user."""
    checked = 0
    for op in engine.catalog.list_ops():
        for prm in engine.catalog.get_op(op).params:
            if prm.type not in ("choice", "padding"):
                continue
            bad = {"format": "convas-graph", "version": 1, "outputs": ["n"],
                   "nodes": [{"id": "input", "op": "Input", "params": {"shape": [2, 8, 8]}},
                             {"id": "n", "op": op, "params": {prm.name: "same'); import os; ('"}, "inputs": ["input"]}]}
            with pytest.raises(GraphError) as e:
                to_python(bad)
            assert any(i.node == "n" and i.field == f"params.{prm.name}" for i in e.value.issues), (op, prm.name)
            checked += 1
    assert checked >= 6  # Conv2d, MaxPool2d, AvgPool2d padding; Input dtype; GELU approximate; Upsample mode


def test_empty_ids_are_refused():
    g = hostile_graph()
    g["nodes"][1]["id"] = ""
    with pytest.raises(GraphError) as e:
        to_python(g)
    assert any(i.field == "id" and "must not be empty" in i.message for i in e.value.issues)


@pytest.mark.parametrize("bad", ["x; import os", "class", "", "1Net", "Ñet", "print", "torch"])
def test_class_name_must_be_an_identifier(bad):
    with pytest.raises(ValueError, match="class_name"):
        to_python(TEMPLATES[0], class_name=bad)


def test_namespace_invariants():
    ns = Namespace()
    a = ns.create_name("a-b", "n1")
    assert ns.create_name("anything", "n1") == a  # one name per object
    assert ns.create_name("a_b", "n2") == "a_b_1"
    assert ns.create_name("a b", "n3") == "a_b_2"
    assert ns.create_name("🙂", "n4") == "node"
    assert ns.create_name("", "n5") == "node_1"
    assert ns.create_name("parameters", "n6") == "parameters_"


# ---- the exported file, on its own -----------------------------------------------------------------------------

STANDALONE = textwrap.dedent("""
    import importlib.util, sys
    sys.modules["engine"] = None  # the exported file must not need Convas
    import torch
    spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.build()
    model.load_state_dict(torch.load(sys.argv[2], weights_only=True), strict=True)
    model.eval()
    out = model(*torch.load(sys.argv[3], weights_only=True))
    torch.save(out if isinstance(out, tuple) else (out,), sys.argv[4])
""")


@pytest.mark.parametrize("which", ["mnist_rmsprop_cnn", "hostile"])
def test_exported_file_runs_alone_and_matches(which, tmp_path):
    g = hostile_graph() if which == "hostile" else ROOT / "assets" / "templates" / f"{which}.json"
    torch.manual_seed(0)
    model = build_module(g).eval()
    ins = tuple(torch.randn(3, *engine.check(g).nodes["input"].shape) for _ in range(1))
    (tmp_path / "net.py").write_text(to_python(g), encoding="utf-8")
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    torch.save(ins, tmp_path / "x.pt")
    subprocess.run([sys.executable, "-c", STANDALONE, *(str(tmp_path / f) for f in ("net.py", "sd.pt", "x.pt",
                                                                                     "y.pt"))],
                   check=True, cwd=tmp_path, capture_output=True)
    got = torch.load(tmp_path / "y.pt", weights_only=True)
    with torch.no_grad():
        want = model(*ins)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
