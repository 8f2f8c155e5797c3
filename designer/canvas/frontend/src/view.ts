// Pure: a read-only view of a design (the Diff page's side-by-side canvases). Python sends the nodes with their
// check results, as for the editing canvas, plus a mark per node (what the diff found there); the view draws the
// same cards, outlined in the mark's colour, and highlights the edges into added or rewired nodes.
import type { Edge } from "@xyflow/react";
import { buildEdges, buildNodes, toG } from "./flow";
import type { OpFlowNode } from "./OpNode";
import type { NodeView, OpInfo } from "./types";

/** What the Diff page sends for one side (designer/diff/canvas.py). */
export interface ViewData {
  view: "diff"; // tells this apart from the editing canvas's data
  name: string; // which side ("a", "b"): the view's test id
  title: string; // shown in the corner of the view
  nodes: NodeView[];
  ops: Record<string, OpInfo>;
  marks: Record<string, string>; // node id -> added | removed | renamed | changed | rewired | reshaped
  height: number;
}

export function isViewData(d: unknown): d is ViewData {
  return typeof d === "object" && d !== null && (d as { view?: unknown }).view === "diff";
}

/** React Flow's nodes: every card as the editing canvas draws it, not selectable or draggable, marked ones with
 * the class `cv-mark cv-mark-<kind>` on their wrapper. */
export function viewNodes(d: ViewData): OpFlowNode[] {
  const views = new Map(d.nodes.map((n) => [n.id, n]));
  return buildNodes(toG(d.nodes), views, d.ops, [], null).map((n) => {
    const mark = d.marks[n.id];
    return { ...n, draggable: false, selectable: false, connectable: false,
      ...(mark ? { className: `cv-mark cv-mark-${mark}` } : {}) };
  });
}

/** React Flow's edges; those into an added or rewired node carry `cv-edge-marked`. */
export function viewEdges(d: ViewData): Edge[] {
  const views = new Map(d.nodes.map((n) => [n.id, n]));
  return buildEdges(toG(d.nodes), views, d.ops, new Set()).map((e) => {
    const mark = d.marks[e.target];
    return mark === "added" || mark === "rewired" ? { ...e, className: `${e.className ?? ""} cv-edge-marked` } : e;
  });
}

/** How many nodes carry each mark, in a fixed order (the view's legend). */
export function markCounts(marks: Record<string, string>): [string, number][] {
  const order = ["added", "removed", "renamed", "changed", "rewired", "reshaped"];
  const counts = new Map<string, number>();
  for (const m of Object.values(marks)) counts.set(m, (counts.get(m) ?? 0) + 1);
  return order.filter((k) => counts.has(k)).map((k) => [k, counts.get(k)!]);
}
