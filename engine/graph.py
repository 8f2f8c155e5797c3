"""The graph file: the one thing the canvas and the engine exchange.

A design is a versioned JSON document (see docs/graph-format.md). `parse` turns JSON into a Graph, collecting
problems instead of stopping at the first; `validate` adds the semantic checks (ops, params, wiring, cycles);
`load_graph` does both and raises GraphError listing every problem. The semantic checks live in engine/wiring.py.
"""
from __future__ import annotations

import copy
import json
import os
import re
import stat
from itertools import accumulate
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from engine.atomic import atomic_write_text
from engine.catalog.registry import _closest
from engine.errors import GraphError, Issue
from engine.limits import MAX_GRAPH_BYTES, MAX_NESTING, MAX_NODES
from engine.modules import Flat, flatten, uses_modules
from engine.wiring import (  # noqa: F401  (the semantic checks, re-exported: engine.graph is their public home)
    dependencies,
    find_cycle_nodes,
    graph_issues,
    inspect_node,
    node_issues,
    normalise_params,
    topo_order,
    validate,
)

FORMAT = "convas-graph"
VERSION = 2  # 2 added `modules` (docs/modules.md); version-1 files are read and upgraded on load
READS = (1, 2)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UI(_Strict):
    """Where the canvas draws a node; never reaches the model."""

    x: float = Field(0.0, allow_inf_nan=False, description="Horizontal position on the canvas (pixels).")
    y: float = Field(0.0, allow_inf_nan=False, description="Vertical position on the canvas (pixels).")
    group: str | None = Field(None, description="Composite block the node was inserted with (e.g. 'inception3a').")
    comment: str | None = Field(None, description="A note the designer wrote on the node.")
    expanded: bool | None = Field(None, description="A module instance drawn expanded in place (else collapsed).")


class Node(_Strict):
    id: str = Field(description="Unique, non-empty name of the node; other nodes refer to it in 'inputs'.",
                    json_schema_extra={"minLength": 1, "pattern": "\\S"})  # checked by validate, with its message
    op: str = Field(description="Catalog op name, following torch.nn (Conv2d, MaxPool2d, Linear, ...).")
    params: dict[str, Any] = Field(default_factory=dict, description=(
        "The op's parameters by torch.nn name; omitted ones take the catalog default. Input-side sizes "
        "(in_channels, in_features) are never stored: shape inference supplies them."))
    inputs: list[str] = Field(default_factory=list, description="Ids of the nodes feeding this one, in order.")
    ui: UI | None = Field(None, description="Canvas-only data (position, group, comment).")


class Task(_Strict):
    kind: Literal["classification", "segmentation", "localisation", "detection", "recommendation",
                  "language_model"] = Field(
        "classification", description=("What the network predicts; localisation: one object's class and box; "
                                       "detection: boxes on a grid; recommendation: an RBM trained by contrastive "
                                       "divergence on ratings; language_model: the next token at every step."))
    num_classes: int = Field(10, ge=1, description="Number of classes (language_model: the vocabulary size V).")


class ModuleDef(_Strict):
    """A named sub-graph (format version 2): nodes read `inputs` by name; "$arg" in a param is an argument."""

    args: dict[str, Any] = Field(default_factory=dict, description=(
        "Arguments and their defaults (e.g. {\"channels\": 64, \"stride\": 1}); an inner param written "
        "\"$channels\" takes the instance's value."))
    inputs: list[str] = Field(default_factory=lambda: ["x"], description=(
        "Names of the module's inputs, in order; inner nodes list them in their 'inputs'."))
    nodes: list[Node] = Field(default_factory=list, description="The module's layers (ids local to the module).")
    outputs: list[str] = Field(default_factory=list, description="The one inner node (or input) the module returns.")
    doc: str | None = Field(None, description="What the module is (becomes the class docstring).")


class Graph(_Strict):
    format: Literal["convas-graph"] = Field(FORMAT, description="Always 'convas-graph'.")
    version: StrictInt = Field(VERSION, ge=1, le=VERSION, description=f"Format version; this build reads {VERSION}.")
    name: str = Field("untitled", description="The design's name (shown in the app and the exported docstring).")
    nodes: list[Node] = Field(default_factory=list, description="The layers, in any order (file order is kept).")
    outputs: list[str] = Field(default_factory=list, description="Ids of the nodes the network returns, in order.")
    task: Task | None = Field(None, description="What the network is trained for; the trainer reads it.")
    modules: dict[str, ModuleDef] = Field(default_factory=dict, description=(
        "Module definitions by name (version 2). A node whose op is a module name is an instance of it: its "
        "params are the module's arguments. See docs/modules.md."))

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def ids(self) -> list[str]:
        return [n.id for n in self.nodes]

    def to_dict(self) -> dict[str, Any]:
        d = self.model_dump(exclude_none=True)
        for n in d["nodes"] + [m for md in d.get("modules", {}).values() for m in md["nodes"]]:
            if not n["params"]:  # keep files short: omit empty fields
                del n["params"]
            if not n["inputs"]:
                del n["inputs"]
        if not d.get("modules"):
            d.pop("modules", None)
        return d

    def to_json(self) -> str:
        # allow_nan=False: NaN/Infinity are not JSON, and a file other tools cannot read is not saved
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _model_at(loc: list) -> type[BaseModel]:
    """The pydantic model whose field the last element of `loc` names (for 'did you mean' hints)."""
    if loc[:1] == ["task"]:
        return Task
    if loc[:1] == ["nodes"]:
        return UI if "ui" in loc[2:-1] else Node
    if loc[:1] == ["modules"]:
        if "nodes" in loc[2:-1]:
            return UI if "ui" in loc[4:-1] else Node
        return ModuleDef
    return Graph


def _loc_to_issue(data: Any, err: dict) -> Issue:
    loc = list(err["loc"])
    model = _model_at(loc)
    node = None
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        try:
            nid = data["nodes"][loc[1]].get("id")
        except Exception:
            nid = None
        node = nid if isinstance(nid, str) and nid else f"nodes[{loc[1]}]"
        loc = loc[2:]
    field = ".".join(str(x) for x in loc) or None
    kind = err["type"]
    if kind == "extra_forbidden":
        hint = _closest(str(loc[-1]), list(model.model_fields))
        msg = (f"unknown field '{loc[-1]}'." + (f" Did you mean '{hint}'?" if hint else "")
               + f" Remove it: this build reads graph format version {VERSION}, whose {_what(model)} fields are "
               f"{', '.join(model.model_fields)}.")
    elif kind == "missing":
        msg = f"required field '{loc[-1]}' is missing."
    elif kind == "model_type" and not loc:
        msg = f"a node must be a JSON object with 'id' and 'op'. Received: {_short(err.get('input'))}."
    else:
        msg = f"{err['msg']}. Received: {_short(err.get('input'))}."
    return Issue(msg, node=node, field=field)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _what(model: type[BaseModel]) -> str:
    return {Graph: "top-level", Node: "node", UI: "ui", Task: "task", ModuleDef: "module"}[model]


def _sort_key(loc: tuple) -> tuple:
    return tuple((isinstance(x, int), x) for x in loc)


def _salvage(data: dict, errors: list[dict]) -> tuple[dict, set[str]]:
    """A copy of `data` without the parts pydantic refused, so the rest can still be checked.

    A node whose id or op is unusable is dropped (its id, when it has one, is returned so that references to it
    are not reported a second time as dangling); any other refused value is removed so its default applies.
    """
    data = copy.deepcopy(data)
    drop_nodes: set[int] = set()
    paths: list[tuple] = []
    for err in errors:
        loc = tuple(err["loc"])
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int) and (len(loc) == 2 or loc[2] in ("id", "op")):
            drop_nodes.add(loc[1])
        else:
            paths.append(loc)
    for loc in sorted(paths, key=_sort_key, reverse=True):  # deepest, last first: list indices stay valid
        parent: Any = data
        try:
            for key in loc[:-1]:
                parent = parent[key]
            del parent[loc[-1]]
        except (KeyError, IndexError, TypeError):
            pass
    dropped: set[str] = set()
    nodes = data.get("nodes")
    if isinstance(nodes, list):
        for i in sorted(drop_nodes, reverse=True):
            if i < len(nodes):
                nid = nodes[i].get("id") if isinstance(nodes[i], dict) else None
                if isinstance(nid, str) and nid:
                    dropped.add(nid)
                del nodes[i]
    return data, dropped


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _header_issues(data: Any) -> list[Issue]:
    """The checks that decide whether the rest of the file can be read at all: format and version."""
    if not isinstance(data, dict):
        return [Issue(f"a graph file must be a JSON object. Received: {type(data).__name__}.")]
    if data.get("format") != FORMAT:
        return [Issue(f"not a Convas graph: 'format' must be '{FORMAT}'. Received: {data.get('format')!r}.",
                      field="format")]
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        return [Issue(f"this graph file is version {version}, newer than this build of Convas reads "
                      f"(version {VERSION}). Update Convas to open it.", field="version")]
    if not isinstance(version, int) or isinstance(version, bool) or version not in READS:
        return [Issue(f"'version' must be {' or '.join(map(str, READS))}. Received: {version!r}.", field="version")]
    if version == 1 and "modules" in data:
        return [Issue("'modules' needs graph format version 2. Set \"version\": 2.", field="modules")]
    return []


def upgrade(data: dict) -> dict:
    """A version-1 graph dict as version 2 (a shallow copy; version 1 differs only by having no modules)."""
    if data.get("version") == 1:
        data = {**data, "version": VERSION}
    return data


def parse_partial(data: Any) -> tuple[Graph | None, list[Issue], set[str]]:
    """JSON text, a dict, or a Graph -> (the readable part as a Graph, structural problems, ids of dropped nodes).

    The Graph is None only when nothing can be read (not JSON, too large or too deeply nested, wrong format or
    version). Otherwise every structural problem is reported and the parts that passed are returned, so that the
    semantic checks can report their problems in the same pass. Text is always content, never a path.
    """
    if isinstance(data, Graph):
        return data, [], set()
    if isinstance(data, (bytes, bytearray)):
        if len(data) > MAX_GRAPH_BYTES:
            return None, [_too_large(len(data))], set()
        try:
            data = bytes(data).decode(json.detect_encoding(bytes(data)))
        except UnicodeDecodeError as e:
            return None, [Issue(f"not a Convas graph file: it is not UTF-8 text ({e.reason} at byte {e.start})."
                                )], set()
    if isinstance(data, str):
        if len(data) > MAX_GRAPH_BYTES:
            return None, [_too_large(len(data))], set()
        depth = text_nesting(data)
        if depth > MAX_NESTING:
            return None, [_too_deep(depth)], set()
        try:
            data = json.loads(data, parse_constant=_reject_constant)
        except json.JSONDecodeError as e:
            return None, [Issue(f"not a Convas graph file: it is not valid JSON ({e.msg} at line {e.lineno}, "
                                f"column {e.colno}).")], set()
        except ValueError as e:
            return None, [Issue(f"not valid JSON: {e}. Use a number or null.")], set()
    else:
        depth = value_nesting(data, MAX_NESTING)
        if depth > MAX_NESTING:
            return None, [_too_deep(depth)], set()
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if isinstance(nodes, list) and len(nodes) > MAX_NODES:
        return None, [Issue(f"the design has {len(nodes):,} nodes, more than the limit of {MAX_NODES:,}. Split it "
                            f"into smaller designs.", field="nodes")], set()
    header = _header_issues(data)
    if header:
        return None, header, set()
    data = upgrade(data)
    try:
        return Graph.model_validate(data), [], set()
    except ValidationError as e:
        issues = [_loc_to_issue(data, err) for err in e.errors()]
        errors = e.errors()
    dropped: set[str] = set()
    for _ in range(4):  # each pass removes what pydantic refused; a refusal can only uncover a shallower one
        data, lost = _salvage(data, errors)
        dropped |= lost
        try:
            return Graph.model_validate(data), issues, dropped
        except ValidationError as e:
            errors = e.errors()
    return None, issues, dropped


def parse(data: Any) -> tuple[Graph | None, list[Issue]]:
    """JSON text, a dict, or a Graph -> (Graph, []) or (None, structural problems)."""
    g, issues, _ = parse_partial(data)
    return (None, issues) if issues else (g, [])



def load_graph(source: str | os.PathLike | dict | Graph) -> Graph:
    """A path, JSON text, dict or Graph -> a valid Graph; raises GraphError listing every problem.

    A str that does not look like JSON (see looks_like_json) is taken for a path: for text that came from a user
    (an upload, a form) call load_graph_text, which never opens a file.
    """
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not looks_like_json(source)):
        source = read_graph_file(source)
    return load_graph_text(source) if isinstance(source, (str, bytes, bytearray)) else _load(source)


def load_graph_text(text: str | bytes) -> Graph:
    """The content of a graph file (an upload, pasted text) -> a valid Graph; raises GraphError listing every
    problem. The text is only ever parsed as JSON: whatever it says, no file is opened."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"load_graph_text reads text or bytes. Received: {type(text).__name__}.")
    return _load(text)


def load_graph_file(path: str | os.PathLike) -> Graph:
    """A graph file on disk -> a valid Graph; raises GraphError (unreadable, not a regular file, too large, ...)."""
    return _load(read_graph_file(path))


def read_graph_file(path: str | os.PathLike) -> str:
    """The text of a graph file, read with bounded memory; GraphError when it cannot be (a device, a pipe, a
    folder, over MAX_GRAPH_BYTES, not UTF-8)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the name
        raise GraphError([Issue(f"cannot read graph file {str(path)!r}: {getattr(e, 'strerror', None) or e}.")]) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise GraphError([Issue(f"cannot read graph file {str(path)!r}: it is not a regular file (a device, "
                                f"pipe or folder), so it is not a Convas graph file.")])
    with os.fdopen(fd, "rb") as f:
        raw = f.read(MAX_GRAPH_BYTES + 1)
    if len(raw) > MAX_GRAPH_BYTES:
        raise GraphError([_too_large(len(raw), more=True)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GraphError([Issue(f"graph file {path} is not UTF-8 text: {e.reason} at byte {e.start}.")]) from None


def _load(source: str | bytes | dict | Graph) -> Graph:
    g, issues, dropped = parse_partial(source)
    if g is not None and uses_modules(g):  # the semantic checks run on the flat graph, named at the instances
        flat = flatten(g)
        issues = issues + flat.issues + [lift(flat, i) for i in validate(flat.graph, known_ids=dropped | flat.unresolved)]
    elif g is not None:
        issues = issues + validate(g, known_ids=dropped)
    if issues:
        raise GraphError(issues)
    return g


def lift(flat: Flat, issue: Issue) -> Issue:
    """An Issue of the flat graph as the designer sees it: on the top-level node, naming the inner node."""
    if issue.node is None or issue.node not in flat.inner:
        return issue
    top = flat.owner[issue.node]
    inner = flat.inner[issue.node]
    module = flat.instances[top].module
    return Issue(f"inside {module} '{inner}': {issue.message}", node=top, field=None,
                 fix=None)


def looks_like_json(text: str) -> bool:
    """A string load_graph reads as JSON text rather than as a path."""
    return text.lstrip()[:1] in ("{", "[") or "\n" in text


# JSON strings (their brackets do not nest), then everything that is not a bracket
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def text_nesting(text: str) -> int:
    """How deep lists and objects nest in JSON text, found without parsing it (json.loads recurses, and a few
    hundred '[' exhaust Python's recursion limit). Malformed text gives some number; json.loads then refuses it."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def value_nesting(value: Any, limit: int) -> int:
    """How deep lists and dicts nest in a value (level by level, no recursion), or the first depth over `limit`."""
    depth, level = 0, [value] if isinstance(value, (dict, list, tuple)) else []
    while level:
        depth += 1
        if depth > limit:
            return depth
        below: list = []
        for v in level:
            below.extend(c for c in (v.values() if isinstance(v, dict) else v) if isinstance(c, (dict, list, tuple)))
        level = below
    return depth


def _too_deep(depth: int) -> Issue:
    return Issue(f"not a Convas graph file: lists and objects nest {depth} deep, more than the limit of "
                 f"{MAX_NESTING} (a graph file needs 6).")


def _too_large(size: int, more: bool = False) -> Issue:
    return Issue(f"not a Convas graph file: it is {'more than ' if more else ''}{size / 2**20:.1f} MB, over the limit "
                 f"of {MAX_GRAPH_BYTES / 2**20:.0f} MB.")


def save_graph(g: Graph, path: str | os.PathLike) -> None:
    """Write atomically (temp file + rename): a crash never leaves half a file."""
    text = g.to_json()  # serialise first: a graph that cannot be written leaves the old file untouched
    atomic_write_text(path, text)


def json_schema() -> dict[str, Any]:
    """JSON Schema of the graph file, generated from the pydantic models (docs/graph.schema.json is this)."""
    schema = Graph.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    schema["title"] = "Convas graph file"
    schema["description"] = ("A Convas design: layers (nodes) wired by id. Structure only: op names and their "
                             "parameters are checked against the layer catalog (docs/layers.md), and the wiring "
                             "(ids, arity, cycles) by engine.load_graph. See docs/graph-format.md.")
    schema["required"] = ["format", "version", "nodes", "outputs"]
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
