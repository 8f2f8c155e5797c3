"""'Did you mean ...?' hints that stay cheap on hostile input.

difflib compares two strings in time quadratic in their length, and a check may ask for a hint for every node:
unbounded, a 5,000-node file with repeated ids took 13 s and one 100,000-character reference 3.9 s. So a hint
compares only names up to MAX_HINT_LENGTH characters, against at most MAX_HINT_CANDIDATES of them (the nearest in
sorted order, by prefix and by suffix, so a typo at either end is still found), and one check spends at most
MAX_HINT_COMPARISONS comparisons on hints in all. A small catalog or graph is compared in full, as before.
"""
from __future__ import annotations

import difflib
from bisect import bisect_left
from collections.abc import Iterable

from engine.limits import MAX_HINT_CANDIDATES, MAX_HINT_COMPARISONS, MAX_HINT_LENGTH


def closest(name: str, options: Iterable[str]) -> str | None:
    """The option most like `name` (difflib ratio ≥ 0.6), comparing only names of at most MAX_HINT_LENGTH."""
    if len(name) > MAX_HINT_LENGTH:
        return None
    m = difflib.get_close_matches(name, [o for o in options if len(o) <= MAX_HINT_LENGTH], n=1, cutoff=0.6)
    return m[0] if m else None


class Suggester:
    """Hints against one set of names (a graph's node ids), for one check: a budget of comparisons shared by every
    hint it gives, the sorted index built once, and each name's answer remembered."""

    def __init__(self, names: Iterable[str], budget: int = MAX_HINT_COMPARISONS):
        self._names = names
        self._sorted: list[str] | None = None
        self._reversed: list[str] = []
        self._answers: dict[str, str | None] = {}
        self.budget = budget

    def closest(self, name: str) -> str | None:
        if name not in self._answers:
            self._answers[name] = self._find(name)
        return self._answers[name]

    def _find(self, name: str) -> str | None:
        if len(name) > MAX_HINT_LENGTH or self.budget <= 0:
            return None
        if self._sorted is None:
            short = [n for n in self._names if len(n) <= MAX_HINT_LENGTH]
            self._sorted = sorted(short)
            self._reversed = sorted(n[::-1] for n in short)
        pool = self._sorted
        if len(pool) > MAX_HINT_CANDIDATES:
            k = MAX_HINT_CANDIDATES // 4  # on each side of where the name would sort, by prefix and by suffix
            i, j = bisect_left(self._sorted, name), bisect_left(self._reversed, name[::-1])
            near = set(self._sorted[max(0, i - k):i + k]) | {r[::-1] for r in self._reversed[max(0, j - k):j + k]}
            pool = sorted(near)
        self.budget -= len(pool)
        return closest(name, pool)
