// The user's edits on the canvas, each one committed as a whole (and so sent to Python) when it is done:
// a card dropped from the palette or appended by a click, a connection, a deletion, a drag that ended.
// Composite blocks and the history are Python's: they go as commands.
import { useCallback, type RefObject } from "react";
import { useReactFlow, type Connection, type Edge, type OnDelete } from "@xyflow/react";
import { addNode, canConnect, connect, cutEdges, hasMoved, move, newNode, remove } from "./model";
import type { OpFlowNode } from "./OpNode";
import { DRAG_MIME } from "./Palette";
import { below, centreOf, cornerAt, type XY } from "./placement";
import type { GraphSync } from "./useGraphSync";
import type { SelectionStore } from "./useSelection";
import type { LayoutSizes, OpInfo, PaletteItem } from "./types";

type Placeable = Pick<PaletteItem, "kind" | "name" | "prefix">;

export interface Edits {
  onNodeDragStop: (event: unknown, node: OpFlowNode, nodes: OpFlowNode[]) => void;
  onDelete: OnDelete<OpFlowNode, Edge>;
  isValidConnection: (c: Connection | Edge) => boolean;
  onConnect: (c: Connection) => void;
  onDrop: (e: React.DragEvent) => void;
  onPick: (item: PaletteItem) => void;
}

/** `ops` and `layout` are read through refs, so the handlers stay the same objects across Python's updates. */
export function useEdits(sync: GraphSync, selection: SelectionStore, ops: RefObject<Record<string, OpInfo>>,
  layout: RefObject<LayoutSizes>, pane: RefObject<HTMLDivElement | null>): Edits {
  const rf = useReactFlow<OpFlowNode, Edge>();
  const { current, commit, command } = sync;

  const onNodeDragStop = useCallback((_: unknown, __: OpFlowNode, nodes: OpFlowNode[]) => {
    const moved = new Map(nodes.map((n) => [n.id, n.position]));
    if (hasMoved(current(), moved)) commit(move(current(), moved));
  }, [current, commit]);

  const onDelete: OnDelete<OpFlowNode, Edge> = useCallback(({ nodes, edges }) => {
    const ids = new Set(nodes.map((n) => n.id));
    const cut = cutEdges(edges, ids);
    if (!ids.size && !cut.length) return;
    const sel = selection.id && ids.has(selection.id) ? null : undefined;
    commit(remove(current(), ids, cut, ops.current), sel);
  }, [current, commit, selection, ops]);

  const isValidConnection = useCallback((c: Connection | Edge) =>
    canConnect(current(), c.source, c.target, c.targetHandle, ops.current), [current, ops]);

  const onConnect = useCallback((c: Connection) => {
    const target = current().find((n) => n.id === c.target);
    if (!target) return;
    commit(connect(current(), c.source, c.target, c.targetHandle, ops.current[target.op]));
  }, [current, commit, ops]);

  // A composite block is expanded by Python; a single op is added here and selected.
  const place = useCallback((item: Placeable, x: number, y: number, after: string | null) => {
    if (item.kind === "block") {
      command({ kind: "add_block", name: item.name, x, y, after, nonce: Date.now() });
      return;
    }
    const g = current();
    const node = newNode(g, item.name, item.prefix, x, y, after, ops.current);
    commit(addNode(g, node), node.id);
  }, [current, commit, command, ops]);

  const onDrop = useCallback((e: React.DragEvent) => {
    const raw = e.dataTransfer.getData(DRAG_MIME);
    if (!raw) return;
    e.preventDefault();
    const item = JSON.parse(raw) as Placeable;
    const p = cornerAt(rf.screenToFlowPosition({ x: e.clientX, y: e.clientY }), layout.current);
    place(item, p.x, p.y, null);
  }, [rf, place, layout]);

  // A click in the palette: below the selected node, wired to it; with nothing selected, in the middle of the view.
  const onPick = useCallback((item: PaletteItem) => {
    const s = layout.current;
    const a = current().find((n) => n.id === selection.id);
    let p: XY;
    if (a) {
      p = below(a, current(), s, sync.views.get(a.id)?.inner_h ?? 0); // under an expanded card's layers
    } else {
      const box = pane.current?.getBoundingClientRect();
      p = cornerAt(rf.screenToFlowPosition({ x: (box?.left ?? 0) + (box?.width ?? 600) / 2,
        y: (box?.top ?? 0) + (box?.height ?? 400) / 2 }), s);
    }
    place(item, p.x, p.y, a ? a.id : null);
    const c = centreOf(p, s);
    rf.setCenter(c.x, c.y, { zoom: rf.getZoom(), duration: 200 });
  }, [rf, place, current, selection, layout, pane, sync.views]);

  return { onNodeDragStop, onDelete, isValidConnection, onConnect, onDrop, onPick };
}
