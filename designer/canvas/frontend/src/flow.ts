// Pure: the canvas's graph (GNode[]) plus Python's check results (NodeView by id) -> React Flow's nodes and edges.
// Nodes that did not change keep their object, so React Flow and the memoised OpNode skip them.
import type { Edge } from "@xyflow/react";
import type { OpFlowNode, OpNodeData } from "./OpNode";
import { portsFor } from "./model";
import type { GNode, NodeView, OpInfo } from "./types";

/** The graph part of Python's node views: what the canvas edits. */
export function toG(nodes: NodeView[]): GNode[] {
  return nodes.map((n) => ({ id: n.id, op: n.op, params: n.params, inputs: n.inputs, x: n.x, y: n.y }));
}

/** Does Python's view describe this node as the canvas has it now (same op, inputs, params)? Otherwise the view
 * is of an older version and its check results do not apply yet. */
export function sameWiring(v: NodeView, g: GNode): boolean {
  return v.op === g.op && JSON.stringify(v.inputs) === JSON.stringify(g.inputs)
    && JSON.stringify(v.params) === JSON.stringify(g.params);
}

export function sameData(a: OpNodeData, b: OpNodeData): boolean {
  for (const k of Object.keys(a) as (keyof OpNodeData)[]) {
    if (k === "ports" || k === "inner") continue;
    if (a[k] !== b[k]) return false;
  }
  return JSON.stringify(a.ports) === JSON.stringify(b.ports) && JSON.stringify(a.inner) === JSON.stringify(b.inner);
}

/** What a node's card shows. A node whose wiring Python has not checked yet is "pending": no error, not blocked. */
export function nodeData(g: GNode, v: NodeView | undefined, info: OpInfo | undefined): OpNodeData {
  const pending = !v || !sameWiring(v, g);
  return {
    op: g.op, colour: info?.colour ?? "#6b7280", summary: v?.summary ?? "", shape: v?.shape ?? null,
    nParams: v?.n_params ?? 0, error: pending ? null : v?.error ?? null, blocked: !pending && !!v?.blocked,
    pending, output: !!v?.output, ports: portsFor(g, info), hasOutput: true,
    module: v?.module ?? null, expanded: !!v?.expanded, inner: v?.inner ?? null,
    innerH: v?.inner_h ?? null, rowH: v?.row_h ?? null,
  };
}

/** React Flow's nodes for `graph`. `select`: the node to select (null: none), or undefined to keep each node's
 * selection as it is in `prev`. A node being dragged keeps its on-screen position. */
export function buildNodes(graph: GNode[], views: Map<string, NodeView>, ops: Record<string, OpInfo>,
  prev: OpFlowNode[], select: string | null | undefined): OpFlowNode[] {
  const before = new Map(prev.map((n) => [n.id, n]));
  const next = graph.map((g) => {
    const p = before.get(g.id);
    const data = nodeData(g, views.get(g.id), ops[g.op]);
    const selected = select !== undefined ? g.id === select : !!p?.selected;
    const position = p?.dragging ? p.position : { x: g.x, y: g.y };
    if (p && sameData(p.data, data) && p.selected === selected && p.position.x === position.x
      && p.position.y === position.y) return p;
    return { id: g.id, type: "op", position, data: p && sameData(p.data, data) ? p.data : data, selected,
      dragging: p?.dragging, measured: p?.measured } as OpFlowNode;
  });
  return keepUnchanged(prev, next, (a, b) => a === b); // nothing changed: the same array, React Flow does nothing
}

/** `next` with each element that equals its previous version (same id, same fields) replaced by that previous
 * object, and `prev` itself when nothing changed: React Flow then skips the unchanged cards and wires (an edge's
 * label is measured with getBBox on every redraw, which is most of a redraw's cost on a big graph). */
export function keepUnchanged<T extends { id: string }>(prev: T[], next: T[], same: (a: T, b: T) => boolean): T[] {
  const before = new Map(prev.map((e) => [e.id, e]));
  let changed = prev.length !== next.length;
  const out = next.map((e, i) => {
    const p = before.get(e.id);
    if (p && same(p, e)) {
      if (prev[i] !== p) changed = true;
      return p;
    }
    changed = true;
    return e;
  });
  return changed ? out : prev;
}

/** Do two edges draw the same? (the fields buildEdges sets) */
export function sameEdge(a: Edge, b: Edge): boolean {
  return a.source === b.source && a.target === b.target && a.sourceHandle === b.sourceHandle
    && a.targetHandle === b.targetHandle && a.label === b.label && a.selected === b.selected
    && a.className === b.className;
}

/** React Flow's edges: one per input (handle "in<i>", labelled with the source's output shape) and one per node
 * reference (handle "ref:<param>", dashed); edges in `selected` stay selected. */
export function buildEdges(graph: GNode[], views: Map<string, NodeView>, ops: Record<string, OpInfo>,
  selected: Set<string>): Edge[] {
  const ids = new Set(graph.map((n) => n.id));
  const edges: Edge[] = [];
  for (const n of graph) {
    n.inputs.forEach((s, i) => {
      if (!ids.has(s)) return;
      const id = `e:${s}>${n.id}:in${i}`;
      const shape = views.get(s)?.shape;
      edges.push({ id, source: s, target: n.id, sourceHandle: "out", targetHandle: `in${i}`, selected: selected.has(id),
        label: shape ?? undefined, className: "cv-edge", labelBgPadding: [6, 2], labelBgBorderRadius: 8 });
    });
    for (const r of ops[n.op]?.refs ?? []) {
      const s = n.params[r];
      if (typeof s !== "string" || !ids.has(s)) continue;
      const id = `e:${s}>${n.id}:ref:${r}`;
      edges.push({ id, source: s, target: n.id, sourceHandle: "out", targetHandle: `ref:${r}`, selected: selected.has(id),
        className: "cv-edge cv-edge-ref" });
    }
  }
  return edges;
}
