"""The quick check: a canvas edit's shapes back on the canvas without waiting for a Streamlit rerun.

Why it exists: a canvas edit goes to Python as a component state value, and Python's answer comes back inside the
Design page's fragment rerun. Streamlit's frontend handles every element of that rerun (the metrics, the problems
panel, the layer table, ~35 elements) before it hands the canvas its new data, so the shapes appeared about 100 ms
after the edit on a 50-node graph, where a bare component answers in about 35 (benchmarks/canvas_latency.py,
--trace). The quick check answers the canvas directly: the canvas POSTs the edit it has just sent to Streamlit to
this route and draws the check of it from the response; Python's own answer, through the rerun, follows and takes
over (the same node views, from the same functions, so nothing on the canvas moves).

How it is wired:
- `serve.py` is the app's entry (`streamlit run serve.py`): an `st.App` around `app.py` with `routes()` mounted.
  Run as `streamlit run app.py`, nothing is mounted and the canvas simply waits for the rerun, as before.
- Each Design page run `offer`s the session's graph and revision under the session's token and hands the canvas
  {url, token}. The token is random and stands for the session: only a browser that passed the app's access gate
  and drew this canvas has it. The route reads nothing else: no file, no session state, no user string as a path.
- An edit made on another revision than the offered one (Python replaced the graph since) is answered 409 and
  drawn only when the rerun comes back, like before. The check itself is the page's: `edit.graph_from_canvas`,
  `check_design`, `node_views`, `verdict`.
- Bounded: a request body over `MAX_BODY` bytes is refused while it is read (413); the registry keeps the latest
  `MAX_SESSIONS` sessions (least recently offered ones go first).
"""
from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import MutableMapping
from typing import Any

from designer.design.checked import check_design
from designer.design.convert import node_views
from designer.design.trace import stamp
from engine import edit
from engine.verdict import verdict

PATH = "/convas/check"
MAX_BODY = 8 * 1024 * 1024  # a 1,000-node canvas message is ~0.3 MB; the graph file's own limits are far below
MAX_SESSIONS = 512
TOKEN_KEY = "design_quick_token"

_lock = threading.Lock()
_offered: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()  # token -> (graph, revision)
_mounted = {"path": None}  # the route's full path (with the server's base URL) once serve.py mounted it


def offer(state: MutableMapping[str, Any], graph: dict[str, Any], rev: int) -> dict[str, str] | None:
    """Register the session's current graph for quick checks and return what the canvas needs to ask for them
    ({url, token}), or None when the route is not mounted (the app was started from app.py)."""
    path = _mounted["path"]
    if path is None:
        return None
    token = state.get(TOKEN_KEY)
    if not isinstance(token, str):
        token = state[TOKEN_KEY] = secrets.token_urlsafe(24)
    with _lock:
        _offered[token] = (graph, rev)  # graphs are never mutated once stored (designer.design.session)
        _offered.move_to_end(token)
        while len(_offered) > MAX_SESSIONS:
            _offered.popitem(last=False)
    return {"url": path, "token": token}


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def answer(body: bytes) -> dict[str, Any]:
    """A quick-check request body ({token, rev, seq, nodes}) -> {rev, seq, nodes, verdict}, the same node views and
    verdict the page sends in the canvas's data. Raises Refused (status, message)."""
    try:
        msg = json.loads(body)
    except ValueError as e:
        raise Refused(400, f"the quick check needs a JSON body: {e}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("token"), str) or not isinstance(msg.get("seq"), int):
        raise Refused(400, "the quick check needs {token, rev, seq, nodes}")
    with _lock:
        offered = _offered.get(msg["token"])
    if offered is None:
        raise Refused(403, "unknown token: reload the page")
    graph, rev = offered
    if msg.get("rev") != rev:
        raise Refused(409, "the design was replaced since this edit: its check comes with the page's rerun")
    try:
        new = edit.graph_from_canvas(graph, msg.get("nodes"))
    except edit.CanvasError as e:
        raise Refused(422, str(e)) from None
    report = check_design(new).report
    return {"rev": rev, "seq": msg["seq"], "nodes": node_views(new, report), "verdict": verdict(report)}


async def _read_capped(request: Any) -> bytes:
    size = request.headers.get("content-length")
    if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
        raise Refused(413, f"the quick check takes at most {MAX_BODY:,} bytes")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY:
            raise Refused(413, f"the quick check takes at most {MAX_BODY:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _endpoint(request: Any) -> Any:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    stamp("quick in")
    try:
        body = await _read_capped(request)
        out = await run_in_threadpool(answer, body)  # the check is CPU work: off the server's event loop
    except Refused as e:
        return JSONResponse({"error": str(e)}, status_code=e.status)
    stamp("quick checked")
    return JSONResponse(out, headers={"Cache-Control": "no-store"})


def routes(base_url: str = "") -> list[Any]:
    """The Starlette routes serve.py mounts (under the server's base URL path, if one is set)."""
    from starlette.routing import Route

    base = "/" + base_url.strip("/") if base_url.strip("/") else ""
    _mounted["path"] = base + PATH
    return [Route(base + PATH, _endpoint, methods=["POST"])]
