"""Undo / redo for the design: snapshots of the graph-file dict, newest last.

Snapshots are whole graphs (a 100-node design is ~20 KB of JSON), which keeps undo exact for every kind of edit —
canvas moves, wiring, parameter changes, fixes, templates — without each edit knowing its own inverse.
Kept in the Streamlit session; no streamlit import here so tests drive it directly.

A snapshot is the very dict it was given, not a copy: every edit of a design returns a new dict and never mutates
the one stored (designer/design/session.py), so the graphs the history holds never change. Copying each one cost
14 ms an edit on a 1,000-node design (benchmarks/canvas_latency.py), on the path from an edit to its redrawn
shapes. History never mutates them either.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Graph = dict[str, Any]


@dataclass
class History:
    limit: int = 200  # snapshots kept on each side; the oldest are dropped first
    undo_stack: list[Graph] = field(default_factory=list)
    redo_stack: list[Graph] = field(default_factory=list)

    @property
    def can_undo(self) -> bool:
        return bool(self.undo_stack)

    @property
    def can_redo(self) -> bool:
        return bool(self.redo_stack)

    def record(self, before: Graph, after: Graph) -> bool:
        """Remember `before` as the state to undo back to, when `after` differs from it. A new edit clears redo."""
        if before == after:
            return False
        self.undo_stack.append(before)
        del self.undo_stack[:-self.limit]
        self.redo_stack.clear()
        return True

    def undo(self, current: Graph) -> Graph | None:
        """The graph before the last edit (None when there is nothing to undo); `current` becomes redoable."""
        if not self.undo_stack:
            return None
        self.redo_stack.append(current)
        del self.redo_stack[:-self.limit]
        return self.undo_stack.pop()

    def redo(self, current: Graph) -> Graph | None:
        """The graph the last undo went back from (None when there is nothing to redo)."""
        if not self.redo_stack:
            return None
        self.undo_stack.append(current)
        del self.undo_stack[:-self.limit]
        return self.redo_stack.pop()

    def clear(self) -> None:
        self.undo_stack.clear()
        self.redo_stack.clear()
