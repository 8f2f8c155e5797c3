"""The canvas's quick-check route (designer/canvas/quick.py): its answer is the page rerun's answer (the oracle: the
same edit adopted by DesignSession and drawn by canvas_data), it refuses what it must (stale revision, unknown
token, bad or oversized bodies) and it stays bounded. The route is called as Starlette calls it, through ASGI."""
import asyncio
import copy
import json
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import engine
from designer.canvas import quick
from designer.design.checked import check_design
from designer.design.convert import canvas_data
from designer.design.session import DesignSession


@pytest.fixture
def route(monkeypatch):
    """The route as serve.py mounts it, with a registry of its own (and the module left as it was after)."""
    from starlette.applications import Starlette

    monkeypatch.setitem(quick._mounted, "path", None)
    monkeypatch.setattr(quick, "_offered", OrderedDict())
    return Starlette(routes=quick.routes())


def call(app, body: bytes, *, method="POST", path=quick.PATH, length: int | None = -1,
         chunks: list[bytes] | None = None) -> tuple[int, dict]:
    """One HTTP request through the ASGI app -> (status, JSON body). `length`: the Content-Length header (-1: the
    body's length, None: no header, as with a streamed body)."""
    async def go():
        headers = [(b"content-type", b"application/json")]
        if length is not None:
            headers.append((b"content-length", str(len(body) if length == -1 else length).encode()))
        parts = chunks if chunks is not None else [body]
        incoming = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
        sent = []

        async def receive():
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(m):
            sent.append(m)

        scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "headers": headers,
                 "query_string": b"", "root_path": "", "scheme": "http", "server": ("test", 80),
                 "client": ("test", 1), "http_version": "1.1"}
        await app(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        raw = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return status, (json.loads(raw) if raw.startswith(b"{") else {"raw": raw.decode()})
    # on a thread of its own: in the whole suite, Playwright's sync API keeps an event loop running on this one
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(go())).result()


def canvas_nodes(g: dict) -> list[dict]:
    """What the canvas sends for `g`: each node's id, op, params, inputs and position."""
    return [{"id": n["id"], "op": n["op"], "params": copy.deepcopy(n.get("params", {})),
             "inputs": list(n.get("inputs", [])), "x": n["ui"]["x"], "y": n["ui"]["y"]} for n in g["nodes"]]


def ask(app, token: str, nodes: list[dict], *, rev=0, seq=1) -> tuple[int, dict]:
    return call(app, json.dumps({"token": token, "rev": rev, "seq": seq, "nodes": nodes}).encode())


@pytest.fixture
def mnist(template_path) -> dict:
    return engine.load_graph(template_path("mnist_cnn")).to_dict()


def rerun_answer(g: dict, nodes: list[dict]) -> dict:
    """What the page's rerun sends the canvas for the same edit: DesignSession adopts the canvas message, the page
    checks the stored graph and canvas_data draws it."""
    state = {"graph": g, "graph_rev": 0}

    def store(new, replace):
        state["graph"] = new

    ds = DesignSession(state, store)
    assert ds.adopt_canvas({"rev": 0, "mount": "m", "seq": 1, "nodes": nodes})
    data = canvas_data(state["graph"], check_design(state["graph"]).report, rev=0, ack=None, selected=None,
                       select_nonce=0, can_undo=True, can_redo=False)
    return {"nodes": data["nodes"], "verdict": data["verdict"]}


def test_the_answer_is_the_page_reruns_answer_for_the_same_edit(route, mnist):
    state: dict = {}
    offered = quick.offer(state, mnist, 0)
    assert offered == {"url": quick.PATH, "token": state[quick.TOKEN_KEY]}
    conv = next(n for n in canvas_nodes(mnist) if n["op"] == "Conv2d")
    nodes = canvas_nodes(mnist)
    first = next(n for n in nodes if n["id"] == conv["id"])
    first["params"] = {**first["params"], "kernel_size": 7, "padding": 0}  # a 7×7 kernel, no padding
    status, a = ask(route, offered["token"], nodes, seq=5)
    assert status == 200, a
    assert (a["rev"], a["seq"]) == (0, 5)
    assert {"nodes": a["nodes"], "verdict": a["verdict"]} == rerun_answer(mnist, nodes)
    # and the shape is torch's: the conv's output for a 1×28×28 input with that kernel
    shape = next(n for n in a["nodes"] if n["id"] == conv["id"])["shape"]
    c = first["params"]["out_channels"]
    out = torch.nn.Conv2d(1, c, 7)(torch.zeros(1, 1, 28, 28))
    assert shape == "×".join(str(d) for d in out.shape[1:])


def test_a_cut_wire_blocks_every_node_below_it_and_the_verdict_says_so(route, mnist):
    token = quick.offer({}, mnist, 3)["token"]
    nodes = canvas_nodes(mnist)
    first = next(n for n in nodes if n["inputs"] == ["input"])
    first["inputs"] = []
    status, a = ask(route, token, nodes, rev=3)
    assert status == 200
    assert not a["verdict"]["ok"]
    views = {n["id"]: n for n in a["nodes"]}
    below = [n["id"] for n in mnist["nodes"] if n["id"] not in ("input", first["id"])]
    assert all(views[i]["shape"] is None for i in below)
    assert {"nodes": a["nodes"], "verdict": a["verdict"]} == rerun_answer(mnist, nodes)


def test_an_edit_made_on_another_revision_is_left_to_the_rerun(route, mnist):
    state: dict = {}
    token = quick.offer(state, mnist, 0)["token"]
    quick.offer(state, mnist, 1)  # Python replaced the design (undo, a fix, a template) since the canvas drew rev 0
    status, a = ask(route, token, canvas_nodes(mnist), rev=0)
    assert status == 409 and "replaced" in a["error"]
    assert quick.offer(state, mnist, 1)["token"] == token  # one token per session, whatever the revision


def test_refusals_name_the_problem(route, mnist):
    token = quick.offer({}, mnist, 0)["token"]
    assert call(route, b"{not json")[0] == 400
    assert call(route, json.dumps({"token": token, "rev": 0}).encode())[0] == 400  # no seq
    status, a = ask(route, "a-guessed-token", canvas_nodes(mnist))
    assert status == 403 and "reload" in a["error"]
    status, a = ask(route, token, [{"id": 3, "op": "Conv2d"}])
    assert status == 422 and "id" in a["error"]
    status, a = ask(route, token, "nodes")
    assert status == 422
    assert call(route, b"", method="GET")[0] == 405


def test_an_oversized_body_is_refused_while_it_is_read(route, monkeypatch):
    monkeypatch.setattr(quick, "MAX_BODY", 1000)
    status, a = call(route, b"{}", length=10**9)  # the header alone says too much
    assert status == 413 and "1,000 bytes" in a["error"]
    chunks = [b"x" * 600, b"x" * 600, b"x" * 600]  # no length given: counted as it streams, stopped past the cap
    status, _ = call(route, b"", length=None, chunks=chunks)
    assert status == 413
    status, _ = call(route, b"{}", length=None, chunks=[b"{", b"}"])  # small and streamed: read, then refused as 400
    assert status == 400


def test_the_registry_keeps_only_the_latest_sessions(route, mnist, monkeypatch):
    monkeypatch.setattr(quick, "MAX_SESSIONS", 3)
    states = [{} for _ in range(4)]
    tokens = [quick.offer(s, mnist, 0)["token"] for s in states]
    assert len(set(tokens)) == 4
    assert ask(route, tokens[0], canvas_nodes(mnist))[0] == 403  # the least recently offered went first
    assert all(ask(route, t, canvas_nodes(mnist))[0] == 200 for t in tokens[1:])


def test_nothing_is_offered_when_the_app_runs_without_the_route(monkeypatch, mnist):
    monkeypatch.setitem(quick._mounted, "path", None)
    state: dict = {}
    assert quick.offer(state, mnist, 0) is None
    assert quick.TOKEN_KEY not in state


def test_the_route_sits_under_the_servers_base_url(monkeypatch):
    monkeypatch.setitem(quick._mounted, "path", None)
    (r,) = quick.routes("/class/")
    assert r.path == "/class" + quick.PATH
    assert quick.offer({}, {"nodes": []}, 0)["url"] == "/class" + quick.PATH
