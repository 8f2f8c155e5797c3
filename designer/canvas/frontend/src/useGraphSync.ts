// Keeps the canvas's graph and Python's in step (see CANVAS-NOTES.md, "who owns what").
// - Between two Python revisions the canvas owns the structure (nodes, wiring, positions): `commit` applies an
//   edit and sends the whole graph to Python at once (only committed actions: drop, connect, delete, drag stop).
// - Python answers with what the live check found (shapes, counts, errors): the views, merged by node id.
// - When Python replaced the graph (template, undo/redo, fix, form edit, auto-layout) it bumps `rev` and the
//   canvas redraws from Python's graph; edits are tagged with the revision they were made on, so Python ignores
//   a stale one.
// - Each edit carries (mount, seq); Python acks the last one it adopted, which is how the canvas knows it is
//   in sync (the status badge) and when to close the latency sample.
import { useCallback, useEffect, useRef, useState } from "react";
import { toG } from "./flow";
import { latency } from "./latency";
import type { OpFlowNode } from "./OpNode";
import type { SelectionStore } from "./useSelection";
import { useLatest } from "./useLatest";
import type { Ack, CanvasCommand, CanvasData, GNode, NodeView, Sender } from "./types";

/** A graph replacement from Python: what the canvas had and what it has now. */
export interface Replacement {
  before: GNode[];
  after: GNode[];
}

export interface GraphSync {
  mount: string; // this canvas instance: acks for another mount's edits are not ours
  graph: GNode[]; // the structure as the canvas has it
  views: Map<string, NodeView>; // Python's latest check results, by node id
  edited: number; // seq of the last edit sent
  acked: number; // seq of the last edit Python adopted and checked
  /** The graph as of now (also inside callbacks created before the last render). */
  current: () => GNode[];
  /** Apply an edit and send it; `select` forces the selection (undefined: leave it). */
  commit: (next: GNode[], select?: string | null) => void;
  /** Send the current graph and selection again (after a selection change). */
  push: () => void;
  /** Send a command only Python can carry out (undo/redo, auto-layout, composite block). */
  command: (c: CanvasCommand) => void;
  /** The last replacement of the graph by Python not yet taken, if any, and clear it. */
  takeReplacement: () => Replacement | null;
}

function randomId(): string {
  return Math.random().toString(36).slice(2, 10);
}

export function useGraphSync(data: CanvasData, send: Sender, selection: SelectionStore): GraphSync {
  const sendRef = useLatest(send);
  const [mount] = useState(randomId);
  const seq = useRef(0);
  const baseRev = useRef(data.rev);
  const [graph, setGraph] = useState<GNode[]>(() => toG(data.nodes));
  const graphRef = useRef(graph);
  const [views, setViews] = useState(() => new Map(data.nodes.map((n) => [n.id, n])));
  const [acked, setAcked] = useState(0);
  const [edited, setEdited] = useState(0);
  const replaced = useRef<Replacement | null>(null);

  const push = useCallback(() => {
    sendRef.current.state({ rev: baseRev.current, mount, seq: seq.current, nodes: graphRef.current,
      selected: selection.id, selected_ids: selection.many });
  }, [sendRef, mount, selection]);

  const commit = useCallback((next: GNode[], select?: string | null) => {
    seq.current += 1;
    const sent = seq.current;
    if (select !== undefined) selection.force(select);
    graphRef.current = next;
    setEdited(sent); // the badge says "Checking…" at once (cheap: the cards do not change)
    latency.start(mount, sent);
    push();
    // Streamlit sends the edit from a timer it has just set. Redrawing the edit here would run first (React
    // renders at the end of this event) and hold the edit back for the whole redraw: redraw on the next timer
    // instead, while Python checks it (benchmarks/canvas_latency.py). graphRef already has it for what follows.
    window.setTimeout(() => setGraph(graphRef.current), 0);
  }, [mount, selection, push]);

  // Python's answer: a new revision replaces the structure; otherwise only the check results are merged.
  useEffect(() => {
    if (data.rev !== baseRev.current) {
      const next = toG(data.nodes);
      replaced.current = { before: graphRef.current, after: next };
      baseRev.current = data.rev;
      graphRef.current = next;
      setGraph(next);
      selection.force(data.select.id);
    }
    setViews(new Map(data.nodes.map((n) => [n.id, n])));
    if (data.ack && data.ack.mount === mount) setAcked(data.ack.seq);
  }, [data, mount, selection]);

  const current = useCallback(() => graphRef.current, []);
  const command = useCallback((c: CanvasCommand) => sendRef.current.command(c), [sendRef]);
  const takeReplacement = useCallback(() => {
    const r = replaced.current;
    replaced.current = null;
    return r;
  }, []);

  return { mount, graph, views, edited, acked, current, commit, push, command, takeReplacement };
}

/** After Python's check of our edits is on screen (`nodes` redrawn): close the latency samples it answered. */
export function useAckPainted(nodes: OpFlowNode[], ack: Ack | null, mount: string): void {
  useEffect(() => {
    if (ack && ack.mount === mount) latency.done(mount, ack.seq);
  }, [nodes, ack, mount]);
}
