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
import { askQuick, staleRerun, takeQuick } from "./quick";
import type { OpFlowNode } from "./OpNode";
import type { SelectionStore } from "./useSelection";
import { useLatest } from "./useLatest";
import type { Ack, CanvasCommand, CanvasData, GNode, NodeView, Sender, Verdict } from "./types";

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
  checked: number; // seq of the last edit whose check is drawn: Python's ack, or a quick answer ahead of it
  verdict: Verdict | null; // the quick answer's verdict while it is ahead of the rerun's, else null
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

/** The longest an edit waits for its quick check before it is drawn and sent to Streamlit anyway. */
const SETTLE_MS = 150;

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
  const quickRoute = useLatest(data.quick ?? null);
  const quickSeq = useRef(0); // the edit whose quick answer is drawn (0: none ahead of the rerun's)
  const ackedRef = useRef(0);
  const [quick, setQuick] = useState<{ seq: number; verdict: Verdict } | null>(null);

  const pushed = useRef(0); // the newest edit sent to Python
  const push = useCallback(() => {
    pushed.current = seq.current;
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
    const route = quickRoute.current;
    if (!route) {
      push();
      // Streamlit sends the edit from a timer it has just set. Redrawing the edit here would run first (React
      // renders at the end of this event) and hold the edit back for the whole redraw: redraw on the next timer
      // instead, while Python checks it (benchmarks/canvas_latency.py). graphRef already has it for what follows.
      window.setTimeout(() => setGraph(graphRef.current), 0);
      return;
    }
    // With the quick check, the edit and its check are drawn in one redraw when the answer comes (a few ms: a
    // redraw of its own first would hold the answer back for as long as it takes), and only then is the edit sent
    // to Streamlit, whose rerun would otherwise compete with the check for the server and with the redraw for
    // the browser. Whatever happens to the answer, both are done within SETTLE_MS.
    const settle = () => {
      if (pushed.current < sent) push();
      setGraph(graphRef.current);
    };
    const late = window.setTimeout(settle, SETTLE_MS);
    void askQuick(route, baseRev.current, sent, next).then((a) => {
      window.clearTimeout(late);
      settle();
      if (!a || !takeQuick(a, { rev: baseRev.current, seq: seq.current, acked: ackedRef.current })) return;
      quickSeq.current = a.seq;
      latency.arrived(mount, a.seq);
      setViews(new Map(a.nodes.map((n) => [n.id, n])));
      setQuick({ seq: a.seq, verdict: a.verdict });
    });
  }, [mount, selection, push, quickRoute]);

  // Python's answer: a new revision replaces the structure; otherwise only the check results are merged.
  useEffect(() => {
    if (data.rev !== baseRev.current) {
      const next = toG(data.nodes);
      replaced.current = { before: graphRef.current, after: next };
      baseRev.current = data.rev;
      graphRef.current = next;
      setGraph(next);
      selection.force(data.select.id);
      quickSeq.current = 0; // a quick answer was for the structure just replaced
    }
    const ackSeq = data.ack && data.ack.mount === mount ? data.ack.seq : 0;
    if (!staleRerun(ackSeq, quickSeq.current)) {
      quickSeq.current = 0;
      setViews(new Map(data.nodes.map((n) => [n.id, n])));
      setQuick(null);
    }
    if (ackSeq) {
      ackedRef.current = ackSeq;
      setAcked(ackSeq);
    }
  }, [data, mount, selection]);

  // An edit still waiting for its quick check goes to Python before anything else can reach it: a command (undo
  // must undo that edit, and its callback reads the edit from the canvas's state value), or any click or key
  // anywhere on the page (a button beside the canvas reruns the page with what Python has).
  const flush = useCallback(() => {
    if (pushed.current < seq.current) push();
  }, [push]);
  useEffect(() => {
    const opts = { capture: true } as const;
    document.addEventListener("pointerdown", flush, opts);
    document.addEventListener("keydown", flush, opts);
    return () => {
      document.removeEventListener("pointerdown", flush, opts);
      document.removeEventListener("keydown", flush, opts);
    };
  }, [flush]);

  const current = useCallback(() => graphRef.current, []);
  const command = useCallback((c: CanvasCommand) => {
    flush();
    sendRef.current.command(c);
  }, [sendRef, flush]);
  const takeReplacement = useCallback(() => {
    const r = replaced.current;
    replaced.current = null;
    return r;
  }, []);

  const checked = Math.max(acked, quick?.seq ?? 0);
  const verdict = quick && quick.seq > acked ? quick.verdict : null;
  return { mount, graph, views, edited, acked, checked, verdict, current, commit, push, command, takeReplacement };
}

/** After a check of our edits is on screen (`nodes` redrawn): close the latency samples it answered. `checked`
 * is the newest edit a quick answer drew (0: none). */
export function useAckPainted(nodes: OpFlowNode[], ack: Ack | null, mount: string, checked = 0): void {
  useEffect(() => {
    if (ack && ack.mount === mount) latency.done(mount, ack.seq);
    if (checked) latency.done(mount, checked);
  }, [nodes, ack, mount, checked]);
}
