// The canvas: React Flow over the design, the palette beside it, a toolbar above it.
//
// Who owns what: between two Python revisions the canvas owns the structure (nodes, wiring, positions) and sends
// all of it to Python after every committed action (drop, connect, delete, drag stop); Python answers with what
// the live check found (shapes, counts, errors), which the canvas merges by node id. When Python replaces the
// graph (template, undo/redo, fix, form edit, auto-layout) it bumps `rev` and the canvas redraws from Python's
// graph. So the canvas never shows a structure Python has not been sent, and never re-applies a stale one.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  Background, BackgroundVariant, Controls, MiniMap, Panel, ReactFlow, applyEdgeChanges, applyNodeChanges,
  useNodesInitialized, useReactFlow, type Connection, type Edge, type EdgeChange, type NodeChange, type OnDelete,
} from "@xyflow/react";
import { OpNode, type OpFlowNode, type OpNodeData } from "./OpNode";
import { DRAG_MIME, Palette } from "./Palette";
import { addNode, connect, createsCycle, move, newId, portsFor, remove } from "./model";
import { latency } from "./latency";
import { Icon } from "./icons";
import type { CanvasCommand, CanvasData, CanvasState, GNode, NodeView, OpInfo, PaletteItem } from "./types";

export interface Sender {
  state: (s: CanvasState) => void;
  command: (c: CanvasCommand) => void;
}

const nodeTypes = { op: OpNode };
const NODE_W = 200;
const LAYER_DY = 120;

function toG(nodes: NodeView[]): GNode[] {
  return nodes.map((n) => ({ id: n.id, op: n.op, params: n.params, inputs: n.inputs, x: n.x, y: n.y }));
}

function sameWiring(v: NodeView, g: GNode): boolean {
  return v.op === g.op && JSON.stringify(v.inputs) === JSON.stringify(g.inputs)
    && JSON.stringify(v.params) === JSON.stringify(g.params);
}

function sameData(a: OpNodeData, b: OpNodeData): boolean {
  for (const k of Object.keys(a) as (keyof OpNodeData)[]) {
    if (k === "ports") continue;
    if (a[k] !== b[k]) return false;
  }
  return JSON.stringify(a.ports) === JSON.stringify(b.ports);
}

function buildNodes(graph: GNode[], views: Map<string, NodeView>, ops: Record<string, OpInfo>, prev: OpFlowNode[],
  select: string | null | undefined): OpFlowNode[] {
  const before = new Map(prev.map((n) => [n.id, n]));
  return graph.map((g) => {
    const p = before.get(g.id);
    const v = views.get(g.id);
    const info = ops[g.op];
    const pending = !v || !sameWiring(v, g);
    const data: OpNodeData = {
      op: g.op, colour: info?.colour ?? "#6b7280", summary: v?.summary ?? "", shape: v?.shape ?? null,
      nParams: v?.n_params ?? 0, error: pending ? null : v?.error ?? null, blocked: !pending && !!v?.blocked,
      pending, output: !!v?.output, ports: portsFor(g, info), hasOutput: true,
    };
    const selected = select !== undefined ? g.id === select : !!p?.selected;
    const position = p?.dragging ? p.position : { x: g.x, y: g.y };
    if (p && sameData(p.data, data) && p.selected === selected && p.position.x === position.x
      && p.position.y === position.y) return p;
    return { id: g.id, type: "op", position, data: p && sameData(p.data, data) ? p.data : data, selected,
      dragging: p?.dragging, measured: p?.measured } as OpFlowNode;
  });
}

function buildEdges(graph: GNode[], views: Map<string, NodeView>, ops: Record<string, OpInfo>,
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

function randomId(): string {
  return Math.random().toString(36).slice(2, 10);
}

export function Canvas({ data, send }: { data: CanvasData; send: Sender }) {
  const rf = useReactFlow<OpFlowNode, Edge>();
  const ops = data.ops;
  const opsRef = useRef(ops);
  opsRef.current = ops;
  const sendRef = useRef(send);
  sendRef.current = send;
  const mount = useRef(randomId());
  const seq = useRef(0);
  const baseRev = useRef(data.rev);
  const selectNonce = useRef(data.select.nonce);
  const selectedRef = useRef<string | null>(data.select.id);
  const forceSelect = useRef<string | null | undefined>(data.select.id);
  const fitPending = useRef(false);
  const fitOnNextRev = useRef(false); // auto-layout moves everything: bring the result into view
  const [graph, setGraph] = useState<GNode[]>(() => toG(data.nodes));
  const graphRef = useRef(graph);
  const [views, setViews] = useState(() => new Map(data.nodes.map((n) => [n.id, n])));
  const [rfNodes, setRfNodes] = useState<OpFlowNode[]>([]);
  const [rfEdges, setRfEdges] = useState<Edge[]>([]);
  const [acked, setAcked] = useState(0);
  const [edited, setEdited] = useState(0);
  const flowRef = useRef<HTMLDivElement>(null);

  // The first view: the whole network if it fits at a readable zoom (≥ 0.7), else its top part at that zoom.
  const readableFit = useCallback(() => {
    const box = flowRef.current?.getBoundingClientRect();
    const nodes = rf.getNodes();
    if (!box || !nodes.length) return;
    const b = rf.getNodesBounds(nodes);
    const pad = 48;
    const fit = Math.min(1, (box.width - 2 * pad) / Math.max(b.width, 1), (box.height - 2 * pad) / Math.max(b.height, 1));
    const zoom = Math.max(fit, 0.7);
    const x = box.width / 2 - (b.x + b.width / 2) * zoom;
    const y = zoom > fit ? pad - b.y * zoom : box.height / 2 - (b.y + b.height / 2) * zoom;
    rf.setViewport({ x, y, zoom });
  }, [rf]);
  const initialised = useNodesInitialized();
  const firstFit = useRef(false);
  useEffect(() => {
    if (initialised && !firstFit.current) {
      firstFit.current = true;
      readableFit();
    }
  }, [initialised, readableFit]);

  const pushState = useCallback((nodes: GNode[]) => {
    sendRef.current.state({ rev: baseRev.current, mount: mount.current, seq: seq.current, nodes,
      selected: selectedRef.current });
  }, []);

  const commit = useCallback((next: GNode[], select?: string | null) => {
    seq.current += 1;
    if (select !== undefined) {
      selectedRef.current = select;
      forceSelect.current = select;
    }
    graphRef.current = next;
    setGraph(next);
    setEdited(seq.current);
    latency.start(mount.current, seq.current);
    pushState(next);
  }, [pushState]);

  // Python's answer: a new revision replaces the structure; otherwise only the check results are merged.
  useEffect(() => {
    if (data.rev !== baseRev.current) {
      const next = toG(data.nodes);
      const old = new Set(graphRef.current.map((n) => n.id));
      const common = next.filter((n) => old.has(n.id)).length;
      fitPending.current = fitOnNextRev.current || common < 0.5 * Math.max(next.length, old.size, 1);
      fitOnNextRev.current = false;
      baseRev.current = data.rev;
      graphRef.current = next;
      setGraph(next);
      selectedRef.current = data.select.id;
      forceSelect.current = data.select.id;
    }
    if (data.select.nonce !== selectNonce.current) {
      selectNonce.current = data.select.nonce;
      selectedRef.current = data.select.id;
      forceSelect.current = data.select.id;
      const n = data.nodes.find((v) => v.id === data.select.id);
      if (n) rf.setCenter(n.x + NODE_W / 2, n.y + 40, { zoom: Math.max(rf.getZoom(), 0.8), duration: 250 });
    }
    setViews(new Map(data.nodes.map((n) => [n.id, n])));
    if (data.ack && data.ack.mount === mount.current) setAcked(data.ack.seq);
  }, [data, rf]);

  useEffect(() => {
    const select = forceSelect.current;
    forceSelect.current = undefined;
    setRfNodes((prev) => buildNodes(graph, views, ops, prev, select));
    setRfEdges((prev) => buildEdges(graph, views, ops, new Set(prev.filter((e) => e.selected).map((e) => e.id))));
  }, [graph, views, ops]);

  // After the check results are on screen: close the latency samples of the edits Python has answered.
  useEffect(() => {
    if (data.ack && data.ack.mount === mount.current) latency.done(mount.current, data.ack.seq);
    if (fitPending.current) {
      fitPending.current = false;
      window.setTimeout(readableFit, 80);
    }
  }, [rfNodes, data.ack, readableFit]);

  // The selected node goes to Python, which shows its properties form.
  useEffect(() => {
    const sel = rfNodes.filter((n) => n.selected).map((n) => n.id);
    const one = sel.length === 1 ? sel[0] : null;
    if (one !== selectedRef.current && forceSelect.current === undefined) {
      selectedRef.current = one;
      pushState(graphRef.current);
    }
  }, [rfNodes, pushState]);

  const onNodesChange = useCallback((changes: NodeChange<OpFlowNode>[]) => {
    setRfNodes((nds) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), nds));
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange<Edge>[]) => {
    setRfEdges((eds) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), eds));
  }, []);

  const onNodeDragStop = useCallback((_: unknown, __: OpFlowNode, nodes: OpFlowNode[]) => {
    const moved = new Map(nodes.map((n) => [n.id, n.position]));
    const changed = graphRef.current.some((g) => {
      const p = moved.get(g.id);
      return p && (Math.abs(p.x - g.x) > 0.5 || Math.abs(p.y - g.y) > 0.5);
    });
    if (changed) commit(move(graphRef.current, moved));
  }, [commit]);

  const onDelete: OnDelete<OpFlowNode, Edge> = useCallback(({ nodes, edges }) => {
    const ids = new Set(nodes.map((n) => n.id));
    const cut = edges.filter((e) => !ids.has(e.source) && !ids.has(e.target))
      .map((e) => ({ target: e.target, handle: e.targetHandle ?? "in0" }));
    if (!ids.size && !cut.length) return;
    const sel = selectedRef.current && ids.has(selectedRef.current) ? null : undefined;
    commit(remove(graphRef.current, ids, cut, opsRef.current), sel);
  }, [commit]);

  const isValidConnection = useCallback((c: Connection | Edge) => {
    const target = graphRef.current.find((n) => n.id === c.target);
    if (!target || opsRef.current[target.op]?.max_inputs === 0 && !c.targetHandle?.startsWith("ref:")) return false;
    return !createsCycle(graphRef.current, c.source, c.target, opsRef.current);
  }, []);

  const onConnect = useCallback((c: Connection) => {
    const target = graphRef.current.find((n) => n.id === c.target);
    if (!target) return;
    commit(connect(graphRef.current, c.source, c.target, c.targetHandle, opsRef.current[target.op]));
  }, [commit]);

  const place = useCallback((item: { kind: string; name: string; prefix: string }, x: number, y: number,
    after: string | null) => {
    if (item.kind === "block") {
      sendRef.current.command({ kind: "add_block", name: item.name, x, y, after, nonce: Date.now() });
      return;
    }
    const g = graphRef.current;
    const id = newId(item.prefix || item.name.toLowerCase(), g);
    const takesInput = opsRef.current[item.name]?.max_inputs !== 0;
    const node: GNode = { id, op: item.name, params: {}, inputs: after && takesInput ? [after] : [], x, y };
    commit(addNode(g, node), id);
  }, [commit]);

  const onDrop = useCallback((e: React.DragEvent) => {
    const raw = e.dataTransfer.getData(DRAG_MIME);
    if (!raw) return;
    e.preventDefault();
    const item = JSON.parse(raw);
    const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    place(item, Math.round(p.x - NODE_W / 2), Math.round(p.y - 30), null);
  }, [rf, place]);

  const onPick = useCallback((item: PaletteItem) => {
    const after = selectedRef.current;
    const a = graphRef.current.find((n) => n.id === after);
    let x: number;
    let y: number;
    if (a) {  // below it; beside what already reads from it, so nothing lands on top of a card
      const branch = graphRef.current.some((n) => n.inputs.includes(a.id));
      x = branch ? a.x + NODE_W + 60 : a.x;
      y = a.y + LAYER_DY;
    } else {
      const box = flowRef.current?.getBoundingClientRect();
      const c = rf.screenToFlowPosition({ x: (box?.left ?? 0) + (box?.width ?? 600) / 2,
        y: (box?.top ?? 0) + (box?.height ?? 400) / 2 });
      x = Math.round(c.x - NODE_W / 2);
      y = Math.round(c.y - 30);
    }
    place(item, x, y, a ? a.id : null);
    rf.setCenter(x + NODE_W / 2, y + 40, { zoom: rf.getZoom(), duration: 200 });
  }, [rf, place]);

  const command = useCallback((kind: "undo" | "redo" | "layout") => {
    if (kind === "layout") fitOnNextRev.current = true;
    sendRef.current.command({ kind, nonce: Date.now() });
  }, []);

  // Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y anywhere on the page except while typing in a field.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey)) return;
      const t = (e.composedPath?.()[0] ?? e.target) as HTMLElement | null;
      if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
      const k = e.key.toLowerCase();
      if (k === "z") command(e.shiftKey ? "redo" : "undo");
      else if (k === "y") command("redo");
      else return;
      e.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [command]);

  const deleteSelected = useCallback(() => {
    rf.deleteElements({ nodes: rfNodes.filter((n) => n.selected), edges: rfEdges.filter((e) => e.selected) });
  }, [rf, rfNodes, rfEdges]);

  const anySelected = useMemo(() => rfNodes.some((n) => n.selected) || rfEdges.some((e) => e.selected),
    [rfNodes, rfEdges]);
  const errors = useMemo(() => data.nodes.filter((n) => n.error).length, [data.nodes]);
  const synced = acked >= edited;

  return (
    <div className="cv-root" style={{ height: data.height }} data-testid="cv-root">
      <Palette groups={data.palette} onPick={onPick} />
      <div className="cv-flow" ref={flowRef} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; }}
        onDrop={onDrop} data-testid="cv-flow">
        <ReactFlow<OpFlowNode, Edge>
          nodes={rfNodes}
          edges={rfEdges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onNodeDragStop={onNodeDragStop}
          onDelete={onDelete}
          onConnect={onConnect}
          isValidConnection={isValidConnection}
          deleteKeyCode={["Backspace", "Delete"]}
          minZoom={0.1}
          maxZoom={2}
          defaultEdgeOptions={{ type: "default" }}
          proOptions={{ hideAttribution: true }}
        >
          <Background variant={BackgroundVariant.Dots} gap={20} size={1.2} color="#cbd5e1" />
          <Controls showInteractive={false} position="bottom-left" />
          <MiniMap position="bottom-right" pannable zoomable className="cv-minimap" style={{ width: 120, height: 90 }}
            nodeColor={(n) => (n.data as OpNodeData).error ? "#dc2626" : (n.data as OpNodeData).colour} />
          <Panel position="top-left" className="cv-toolbar">
            <button type="button" onClick={() => command("undo")} disabled={!data.can_undo && synced}
              title="Undo (Ctrl+Z)" aria-label="Undo" data-testid="cv-undo"><Icon name="undo" /></button>
            <button type="button" onClick={() => command("redo")} disabled={!data.can_redo}
              title="Redo (Ctrl+Shift+Z)" aria-label="Redo" data-testid="cv-redo"><Icon name="redo" /></button>
            <span className="cv-sep" />
            <button type="button" onClick={deleteSelected} disabled={!anySelected}
              title="Delete the selection (Delete / Backspace)" aria-label="Delete" data-testid="cv-delete">
              <Icon name="delete" /></button>
            <span className="cv-sep" />
            <button type="button" onClick={() => command("layout")} title="Auto-layout: arrange the layers top to bottom"
              aria-label="Auto-layout" data-testid="cv-layout"><Icon name="layout" /></button>
            <button type="button" onClick={() => rf.fitView({ padding: 0.08, maxZoom: 1 })}
              title="Zoom to fit the whole network" aria-label="Zoom to fit" data-testid="cv-fit"><Icon name="fit" /></button>
          </Panel>
          <Panel position="top-right" className={`cv-status ${!synced ? "cv-busy" : errors ? "cv-bad" : "cv-synced"}`}>
            <span data-testid="cv-status" data-synced={synced ? "1" : "0"} data-seq={edited} data-ack={acked}
              data-rev={data.rev}>
              <span className="cv-status-dot" />
              {synced ? (errors ? `${errors} node${errors > 1 ? "s" : ""} in error` : "All shapes check out")
                : "Checking…"}
            </span>
          </Panel>
        </ReactFlow>
      </div>
    </div>
  );
}
