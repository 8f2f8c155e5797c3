"""Results of the Inspect page's methods, cached per run, checkpoint, method, layer, settings and input.

Streamlit's `st.cache_data` cannot show a live progress bar from inside the cached call, so the page computes
outside it and keeps results here: one least-recently-used store for the whole server (`st.cache_resource`),
bounded, thread-safe. A key is a tuple of plain values (see `key`); results are the engine's dataclasses.
"""
from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import streamlit as st

MAX_ENTRIES = 256


class ResultStore:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: tuple) -> Any | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: tuple, value: Any) -> Any:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value

    def get_or_compute(self, key: tuple, compute: Callable[[], Any]) -> Any:
        found = self.get(key)
        return found if found is not None else self.put(key, compute())


@st.cache_resource
def store() -> ResultStore:
    return ResultStore()


def key(run, method: str, *parts: Any) -> tuple:
    """(run id, weights time, method, ...parts); dataclass settings become their sorted field items."""
    flat = []
    for p in parts:
        if dataclasses.is_dataclass(p):
            flat.append(tuple(sorted(dataclasses.asdict(p).items())))
        elif isinstance(p, (list, dict)):
            flat.append(repr(p))
        else:
            flat.append(p)
    return (run.id, run.stamp, method, *flat)
