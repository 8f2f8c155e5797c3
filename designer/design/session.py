"""The Design page's state: what the canvas sent, the undo history, the selection, and every edit the page makes.

`DesignSession` works on any mutable mapping (Streamlit's session_state in the app, a dict in tests) and stores a
new graph through `store(graph, replace)` (designer.state.set_graph in the app: it autosaves). The rules:

- A canvas edit is adopted only if it was made on the current revision (`rev`): after Python replaced the graph
  (undo, fix, form edit, template) an edit made on the old one is dropped, and the canvas redraws from Python's.
- Each canvas message is adopted once: (mount, seq) identifies it; a remounted canvas starts a new mount.
- Every change of the graph goes through `commit`, which records undo history; only canvas edits skip the
  revision bump (the canvas already shows them).
- A change stores a new graph dict, never mutates the stored one: its identity is the revision the undo history
  and the check cache (`checked`, designer.design.checked) key on.
"""
from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from designer.design.checked import Checked, checked
from designer.design.history import History
from engine import edit, module_edit, reflow
from engine.layout import layout_positions

Graph = dict[str, Any]
BLOCK_STEM = {"inception": "inc", "residual": "res", "bottleneck": "bneck", "fire": "fire", "dense": "dense",
              "mlpconv": "mlp"}


class DesignSession:
    def __init__(self, state: MutableMapping[str, Any], store: Callable[[Graph, bool], None]):
        self.state = state
        self.store = store
        state.setdefault("design_history", History())
        state.setdefault("design_selected", None)  # node id whose properties the page shows
        state.setdefault("design_select_nonce", 0)  # bumped when Python moves the canvas selection
        state.setdefault("design_ack", None)  # {mount, seq} of the last canvas message adopted
        state.setdefault("design_notice", None)  # one message for the page to show once (e.g. a refused edit)
        state.setdefault("design_multi", [])  # the canvas's selection when it is several cards (Make module)
        state.setdefault("design_inner", None)  # {instance, inner}: a layer clicked on an expanded instance's card

    # ---- reading ----
    @property
    def graph(self) -> Graph:
        return self.state["graph"]

    @property
    def rev(self) -> int:
        return self.state.get("graph_rev", 0)

    @property
    def checked(self) -> Checked:
        """The current graph parsed and checked, once per revision: what the page draws and the fixes read."""
        return checked(self.state)

    @property
    def history(self) -> History:
        return self.state["design_history"]

    @property
    def selected(self) -> str | None:
        sel = self.state["design_selected"]
        return sel if sel in {n["id"] for n in self.graph["nodes"]} else None

    @property
    def selected_instance(self) -> bool:
        """Is the selected node a module instance?"""
        sel = self.selected
        return sel is not None and any(n["id"] == sel and n["op"] in (self.graph.get("modules") or {})
                                       for n in self.graph["nodes"])

    @property
    def selected_inner(self) -> str | None:
        """The layer of the selected instance's definition whose properties the page shows (clicked on the expanded
        card), or None: the instance itself."""
        inner, sel = self.state["design_inner"], self.selected
        if not isinstance(inner, dict) or sel is None or inner.get("instance") != sel:
            return None
        op = next(n["op"] for n in self.graph["nodes"] if n["id"] == sel)
        d = (self.graph.get("modules") or {}).get(op)
        ids = {m.get("id") for m in d.get("nodes", [])} if isinstance(d, dict) else set()
        return inner.get("inner") if inner.get("inner") in ids else None

    @property
    def multi(self) -> list[str]:
        """The selected cards when several are selected (what "Make module" takes), else []."""
        ids = {n["id"] for n in self.graph["nodes"]}
        sel = [i for i in self.state["design_multi"] if i in ids]
        return sel if len(sel) > 1 else []

    def notice(self) -> str | None:
        """The pending message for the user, once."""
        msg, self.state["design_notice"] = self.state["design_notice"], None
        return msg

    # ---- changing ----
    def _store(self, g: Graph, replace: bool) -> None:
        self.store(g, replace)
        self.state["design_known"] = self.graph

    def note_external_change(self) -> None:
        """Make a graph another page part stored (a template opened from the sidebar, a renamed design) one more
        undoable step. Call once per page run, before reading the graph."""
        known = self.state.get("design_known")
        g = self.graph
        if known is not None and known is not g:
            self.history.record(known, g)
        self.state["design_known"] = g

    def commit(self, new: Graph, replace: bool = True) -> bool:
        """Store `new` (recording undo) when it differs from the current graph."""
        if not self.history.record(self.graph, new):
            return False
        self._store(new, replace)
        return True

    def adopt_canvas(self, msg: Any, selection: bool = True) -> bool:
        """A canvas state message ({rev, mount, seq, nodes, selected}) -> adopted edit? Never raises.
        `selection=False`: take only its edit, not its selection (a command's callback reads the canvas's last state
        value, which is stale when Python has moved the selection since; a new one has its own callback)."""
        if not isinstance(msg, dict):
            return False
        ack = self.state["design_ack"]
        mount, seq = msg.get("mount"), msg.get("seq")
        if not isinstance(seq, int):
            return False
        fresh = ack is None or ack.get("mount") != mount or seq > ack.get("seq", -1)
        changed = False
        if fresh:
            self.state["design_ack"] = {"mount": mount, "seq": seq}
            if msg.get("rev") == self.rev:
                try:
                    new = edit.graph_from_canvas(self.graph, msg.get("nodes"))
                except edit.CanvasError as e:
                    self.state["design_notice"] = f"The canvas sent an edit the design cannot take: {e}"
                    return False
                changed = self.commit(new, replace=False)
        if not selection:
            return changed
        sel = msg.get("selected")
        if sel is None or any(n["id"] == sel for n in self.graph["nodes"]):
            if sel != self.state["design_selected"]:
                self.state["design_inner"] = None  # another card: no longer a layer inside the instance
            self.state["design_selected"] = sel
        many = msg.get("selected_ids")
        self.state["design_multi"] = [i for i in many if isinstance(i, str)] if isinstance(many, list) else []
        return changed

    def run_command(self, cmd: Any) -> bool:
        """A canvas command trigger: {kind: undo|redo|layout|add_block, ...}."""
        if not isinstance(cmd, dict):
            return False
        kind = cmd.get("kind")
        if kind == "undo":
            return self.undo()
        if kind == "redo":
            return self.redo()
        if kind == "layout":
            return self.commit(reflow.auto_layout(self.graph))  # room made for the expanded instances
        if kind == "expand":
            return self.set_expanded(str(cmd.get("id")), bool(cmd.get("expanded")))
        if kind == "select_inner":
            return self.select_inner(str(cmd.get("id")), cmd.get("inner"))
        if kind == "add_block":
            try:
                return self.add_block(str(cmd.get("name")), float(cmd.get("x", 0)), float(cmd.get("y", 0)),
                                      cmd.get("after"))
            except (ValueError, TypeError) as e:
                self.state["design_notice"] = str(e)
        return False

    def undo(self) -> bool:
        g = self.history.undo(self.graph)
        if g is None:
            return False
        self._store(g, True)
        return True

    def redo(self) -> bool:
        g = self.history.redo(self.graph)
        if g is None:
            return False
        self._store(g, True)
        return True

    def select(self, node_id: str | None) -> None:
        """Select a node from Python (an error clicked, a block added): the canvas follows and centres on it."""
        self.state["design_selected"] = node_id
        self.state["design_select_nonce"] += 1

    def set_params(self, node_id: str, params: dict[str, Any]) -> bool:
        return self.commit(edit.set_params(self.graph, node_id, params))

    def rename(self, old: str, new: str) -> bool:
        changed = self.commit(edit.rename_node(self.graph, old, new))
        if changed and self.state["design_selected"] == old:
            self.select(new.strip())
        return changed

    def set_output(self, node_id: str, is_output: bool) -> bool:
        return self.commit(edit.set_output(self.graph, node_id, is_output))

    def delete(self, ids: list[str]) -> bool:
        """Delete nodes (ids already gone, e.g. deleted on the canvas in the same rerun, are skipped)."""
        changed = self.commit(edit.delete_nodes(self.graph, ids))
        if self.state["design_selected"] in ids:
            self.select(None)
        return changed

    def apply_fix(self, fix: dict[str, Any]) -> bool:
        """Apply a fix from engine.fixes.suggest_fixes; one made stale by an edit in the same rerun (its node
        deleted or rewired on the canvas) is refused with a notice instead of an error."""
        from engine.fixes import apply_fix

        try:
            fixed = apply_fix(self.graph, fix)
        except (KeyError, IndexError, ValueError) as e:
            self.state["design_notice"] = f"That fix no longer applies: the design changed meanwhile ({e})."
            return False
        return self.commit(fixed.to_dict())

    def add_block(self, name: str, x: float, y: float, after: str | None) -> bool:
        """Insert a composite block at (x, y), fed by `after` (or by a fresh Identity entry node to wire up).
        A residual block whose input shape is not known yet gets an identity shortcut; if the channels then
        differ, the check offers the "insert 1×1 Conv2d" fix."""
        from engine import blocks

        ids = {n["id"] for n in self.graph["nodes"]}
        stem = BLOCK_STEM.get(name, "block")
        k = 1
        while f"{stem}{k}" in ids or any(i.startswith(f"{stem}{k}_") for i in ids):
            k += 1
        prefix = f"{stem}{k}"
        entry: list[dict] = []
        src = after if after in ids else None
        if src is None:  # a block dropped on empty canvas gets one input to connect, not one per branch
            src = f"{prefix}_in"
            entry = [{"id": src, "op": "Identity", "ui": {"x": 0.0, "y": 0.0, "group": prefix}}]
        shape = self.checked.report.nodes[after].shape if after in ids else None
        extra = {"projection": "never"} if shape is None and name in blocks.NEEDS_SHAPE else {}
        nodes, out_id = blocks.make_block(name, prefix, src, input_shape=shape, **extra)
        nodes = entry + nodes
        if any(not n.get("ui") for n in nodes):
            for n in nodes:
                n["ui"] = {"x": 0.0, "y": 0.0, "group": prefix}
            for nid, (px, py) in layout_positions(nodes).items():
                next(n for n in nodes if n["id"] == nid)["ui"].update(x=px, y=py)
        top = min(n["ui"]["y"] for n in nodes)
        left = min(n["ui"]["x"] for n in nodes)
        for n in nodes:
            n["ui"]["x"] = round(n["ui"]["x"] - left + x, 1)
            n["ui"]["y"] = round(n["ui"]["y"] - top + y, 1)
        changed = self.commit(edit.add_nodes(self.graph, nodes))
        if changed:
            self.select(out_id)
        return changed

    # ---- modules (engine.module_edit): each one undoable step; a refused edit becomes the notice ----
    def _module_edit(self, fn: Callable[..., Graph], *args: Any) -> Graph | None:
        try:
            return fn(self.graph, *args)
        except module_edit.ModuleEditError as e:
            self.state["design_notice"] = f"{e}"
            return None

    def make_module(self, ids: list[str], name: str) -> bool:
        """The selected cards become a module `name` and one instance of it in their place (selected)."""
        new = self._module_edit(module_edit.make_module, list(ids), name.strip())
        if new is None or not self.commit(new):
            return False
        self.state["design_multi"] = []
        self.select(next(n["id"] for n in new["nodes"] if n["op"] == name.strip()))
        return True

    def detach(self, instance_id: str) -> bool:
        """The instance gets its own copy of its definition (editing it no longer changes the others)."""
        new = self._module_edit(module_edit.detach, instance_id)
        return new is not None and self.commit(new)

    def inline(self, instance_id: str) -> bool:
        """The instance is replaced by its inner layers (ids '<instance>_<inner>')."""
        new = self._module_edit(module_edit.inline, instance_id)
        if new is None or not self.commit(new):
            return False
        if self.state["design_selected"] == instance_id:
            self.select(None)
        return True

    def set_expanded(self, instance_id: str, expanded: bool) -> bool:
        """Draw the instance expanded (its inner layers on the card) or collapsed; ui state, undoable."""
        new = self._module_edit(module_edit.set_expanded, instance_id, expanded)
        if not expanded and (self.state["design_inner"] or {}).get("instance") == instance_id:
            self.state["design_inner"] = None  # collapsed: back to the instance
        return new is not None and self.commit(new)

    def select_inner(self, instance_id: str, inner_id: str | None) -> bool:
        """Show a layer of the instance's definition in the Properties panel (None: the instance itself); the
        instance becomes the canvas's selection. Not an edit: nothing to undo; returns whether it is selected."""
        if not any(n["id"] == instance_id for n in self.graph["nodes"]):
            return False
        if self.state["design_selected"] != instance_id:
            self.select(instance_id)
        self.state["design_inner"] = {"instance": instance_id, "inner": inner_id} if isinstance(inner_id, str) else None
        return self.selected_inner is not None

    def rename_module(self, old: str, new: str) -> bool:
        """Rename a definition: every instance follows, and so does the exported class."""
        new_g = self._module_edit(module_edit.rename_module, old, new)
        return new_g is not None and self.commit(new_g)

    def set_inner_params(self, module: str, inner_id: str, params: dict[str, Any]) -> bool:
        """Set params of one layer inside a definition: every instance of it changes."""
        new = self._module_edit(module_edit.set_inner_params, module, inner_id, params)
        return new is not None and self.commit(new)
