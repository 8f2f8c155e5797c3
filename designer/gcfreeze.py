"""Once per server process, after the first page run has imported torch, the catalog and the pages: collect, then
move every object alive at that point out of the garbage collector's view (`gc.freeze`). Those objects live as
long as the process, yet every full collection scanned them all: about 250 ms with torch loaded, holding every
thread, so a canvas edit that met one waited that long for its shapes (`benchmarks/canvas_latency.py --trace`
stamps "gc start" / "gc stop"). Objects made later (sessions, designs, runs) are collected as usual."""
from __future__ import annotations

import gc
from functools import cache


@cache
def freeze_startup_objects() -> None:
    gc.collect()
    gc.freeze()
