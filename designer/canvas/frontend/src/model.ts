// Pure edits of the canvas's graph (GNode[]): every function returns a new array and never mutates its input.
// Ports: input i of a node is the handle "in<i>"; a node-reference param p (MaxUnpool2d's pool) is "ref:<p>".
import type { GNode, OpInfo } from "./types";

export interface Port {
  id: string;
  label: string;
  kind: "input" | "ref";
}

/** The input ports a node shows: its ordered inputs (one spare for ops taking any number), then references. */
export function portsFor(node: GNode, info: OpInfo | undefined): Port[] {
  if (!info) return [{ id: "in0", label: "", kind: "input" }];
  const max = info.max_inputs;
  let n: number;
  if (max === 0) n = 0;
  else if (max === 1) n = 1;
  else n = Math.max(info.min_inputs, node.inputs.length + 1, 1);
  if (max !== null) n = Math.min(n, max);
  const multi = max === null || max > 1;
  const ports: Port[] = [];
  for (let i = 0; i < n; i++) {
    const label = info.input_names[i] ?? (multi ? String(i + 1) : "");
    ports.push({ id: `in${i}`, label, kind: "input" });
  }
  for (const r of info.refs) ports.push({ id: `ref:${r}`, label: r, kind: "ref" });
  return ports;
}

/** The first free id `<prefix><n>` (conv1, conv2, …). */
export function newId(prefix: string, nodes: GNode[]): string {
  const taken = new Set(nodes.map((n) => n.id));
  let i = 1;
  while (taken.has(`${prefix}${i}`)) i++;
  return `${prefix}${i}`;
}

export function addNode(nodes: GNode[], node: GNode): GNode[] {
  return [...nodes, node];
}

/** A new node of `op` at (x, y) with the first free id for `prefix` (the op's name in lower case when empty),
 * wired to `after` when given and the op takes an input. */
export function newNode(nodes: GNode[], op: string, prefix: string, x: number, y: number, after: string | null,
  ops: Record<string, OpInfo>): GNode {
  const id = newId(prefix || op.toLowerCase(), nodes);
  const takesInput = ops[op]?.max_inputs !== 0;
  return { id, op, params: {}, inputs: after && takesInput ? [after] : [], x, y };
}

/** The node ids a node's reference params name (only params the catalog marks as node references). */
export function refsOf(n: GNode, ops: Record<string, OpInfo>): string[] {
  const out: string[] = [];
  for (const r of ops[n.op]?.refs ?? []) {
    const v = n.params[r];
    if (typeof v === "string" && v) out.push(v);
  }
  return out;
}

/** Would an edge source -> target close a loop? (target already feeds source) */
export function createsCycle(nodes: GNode[], source: string, target: string,
  ops: Record<string, OpInfo>): boolean {
  if (source === target) return true;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const seen = new Set<string>();
  const stack = [source];
  while (stack.length) {
    const cur = stack.pop()!;
    if (cur === target) return true;
    if (seen.has(cur)) continue;
    seen.add(cur);
    const n = byId.get(cur);
    if (!n) continue;
    stack.push(...n.inputs);
    for (const r of refsOf(n, ops)) stack.push(r);
  }
  return false;
}

/** May source's output go to target's port `handle`? Not into an op that takes no input (except through a
 * reference port), not to a node that does not exist, and not into a loop. */
export function canConnect(nodes: GNode[], source: string, target: string, handle: string | null | undefined,
  ops: Record<string, OpInfo>): boolean {
  const t = nodes.find((n) => n.id === target);
  if (!t || ops[t.op]?.max_inputs === 0 && !handle?.startsWith("ref:")) return false;
  return !createsCycle(nodes, source, target, ops);
}

/** Connect source's output to target's port: fills that input slot, appends past the end, or sets a reference. */
export function connect(nodes: GNode[], source: string, target: string, handle: string | null | undefined,
  info: OpInfo | undefined): GNode[] {
  return nodes.map((n) => {
    if (n.id !== target) return n;
    if (handle && handle.startsWith("ref:")) {
      return { ...n, params: { ...n.params, [handle.slice(4)]: source } };
    }
    const i = handle && handle.startsWith("in") ? Number(handle.slice(2)) : 0;
    const single = info ? info.max_inputs === 1 : true;
    if (single) return { ...n, inputs: [source] };
    const inputs = [...n.inputs];
    if (i < inputs.length) inputs[i] = source;
    else inputs.push(source);
    return { ...n, inputs };
  });
}

export interface EdgeRef {
  target: string;
  handle: string; // "in<i>" or "ref:<param>"
}

/** The edges a deletion cuts by themselves: those not attached to a deleted node (which go with the node). */
export function cutEdges(edges: { source: string; target: string; targetHandle?: string | null }[],
  nodeIds: Set<string>): EdgeRef[] {
  return edges.filter((e) => !nodeIds.has(e.source) && !nodeIds.has(e.target))
    .map((e) => ({ target: e.target, handle: e.targetHandle ?? "in0" }));
}

/** Remove nodes (and every connection to them) and edges; inputs close up, references become "". */
export function remove(nodes: GNode[], nodeIds: Set<string>, edges: EdgeRef[],
  ops: Record<string, OpInfo>): GNode[] {
  const cut = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!cut.has(e.target)) cut.set(e.target, new Set());
    cut.get(e.target)!.add(e.handle);
  }
  return nodes
    .filter((n) => !nodeIds.has(n.id))
    .map((n) => {
      const handles = cut.get(n.id);
      const inputs = n.inputs.filter((s, i) => !nodeIds.has(s) && !(handles && handles.has(`in${i}`)));
      let params = n.params;
      for (const k of ops[n.op]?.refs ?? []) {
        const v = n.params[k];
        const gone = (typeof v === "string" && nodeIds.has(v)) || (handles && handles.has(`ref:${k}`));
        if (gone) params = { ...params, [k]: "" };
      }
      return inputs.length === n.inputs.length && params === n.params ? n : { ...n, inputs, params };
    });
}

/** Did any node of `nodes` move by more than half a pixel to its position in `moved`? */
export function hasMoved(nodes: GNode[], moved: Map<string, { x: number; y: number }>): boolean {
  return nodes.some((g) => {
    const p = moved.get(g.id);
    return !!p && (Math.abs(p.x - g.x) > 0.5 || Math.abs(p.y - g.y) > 0.5);
  });
}

/** Nodes at their new positions (rounded to 0.1 px); nodes not in `moved` stay where they are. */
export function move(nodes: GNode[], moved: Map<string, { x: number; y: number }>): GNode[] {
  return nodes.map((n) => {
    const p = moved.get(n.id);
    return p ? { ...n, x: Math.round(p.x * 10) / 10, y: Math.round(p.y * 10) / 10 } : n;
  });
}
