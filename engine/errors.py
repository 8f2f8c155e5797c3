"""Errors and the Issue record every check reports."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Issue:
    """One problem found in a graph: which node (or None for the whole graph), which field, and what is wrong.

    `fix` is an optional machine-readable suggestion (see engine.fixes) that the app can offer as one click.
    """

    message: str
    node: str | None = None
    field: str | None = None
    fix: dict[str, Any] | list[dict[str, Any]] | None = None  # one fix, or alternatives

    def __str__(self) -> str:
        where = self.node or "graph"
        if self.field:
            where += f".{self.field}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"node": self.node, "field": self.field, "message": self.message}
        if self.fix:
            d["fix"] = self.fix
        return d


class GraphError(ValueError):
    """A graph file that cannot be used. `issues` lists every problem at once."""

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        lines = "\n".join(f"  - {i}" for i in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in the graph:\n{lines}")


class ShapeError(ValueError):
    """Raised by a shape rule; the message teaches with the arithmetic. `field` names the parameter to change."""

    def __init__(self, message: str, field: str | None = None,
                 fix: dict[str, Any] | list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.field = field
        self.fix = fix


@dataclass
class ParamError(ValueError):
    field: str
    message: str

    def __str__(self) -> str:
        return self.message
