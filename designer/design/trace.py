"""Where a canvas edit's time goes on the server: when CONVAS_TRACE names a file, the Design page and Streamlit's
message path append (epoch ms, event) lines to it; benchmarks/canvas_latency.py --trace lines them up with the
browser's stamps (frontend/src/latency.ts). Off (nothing patched, nothing written) when the variable is unset."""
from __future__ import annotations

import json
import os
import threading
import time
from functools import cache

PATH = os.environ.get("CONVAS_TRACE")
_lock = threading.Lock()


def stamp(event: str, **extra: object) -> None:
    if not PATH:
        return
    line = json.dumps({"t": time.time() * 1000, "e": event, **extra})
    with _lock, open(PATH, "a") as f:
        f.write(line + "\n")


@cache
def patch_streamlit() -> None:
    """Stamp each message from the browser as it is handled and each message to it as it is written out."""
    if not PATH:
        return
    from streamlit.runtime.app_session import AppSession
    from streamlit.runtime.runtime import Runtime

    handle = AppSession.handle_backmsg

    def handle_backmsg(self, msg):  # noqa: ANN001, ANN202
        stamp("backmsg", kind=msg.WhichOneof("type"))
        return handle(self, msg)

    send = Runtime._send_message

    def send_message(self, info, msg):  # noqa: ANN001, ANN202
        kind = msg.WhichOneof("type")
        el = msg.delta.new_element.WhichOneof("type") if kind == "delta" and msg.delta.HasField("new_element") else None
        stamp("send", kind=kind, el=el, size=msg.ByteSize())
        return send(self, info, msg)

    AppSession.handle_backmsg = handle_backmsg
    Runtime._send_message = send_message

    def on_gc(phase: str, info: dict) -> None:  # a full collection can hold every thread for a long while
        if info.get("generation") == 2:
            stamp(f"gc {phase}", collected=info.get("collected"))

    import gc
    gc.callbacks.append(on_gc)
