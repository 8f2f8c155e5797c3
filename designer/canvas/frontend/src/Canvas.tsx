// The canvas: React Flow over the design, the palette beside it, a toolbar above it. The behaviour lives in hooks:
// useGraphSync (the canvas's graph and Python's, revisions and acks), useFlowElements (what React Flow draws),
// useSelection, useFitView, useEdits (drop, connect, delete, drag) and useKeyboard (undo/redo keys).
import { useCallback, useMemo, useRef } from "react";
import {
  Background, BackgroundVariant, Controls, MiniMap, Panel, ReactFlow, useReactFlow, type Edge,
} from "@xyflow/react";
import { HealthContext, HealthLegend } from "./Health";
import { Icon } from "./icons";
import { CommandContext, InnerSelectionContext } from "./ModuleParts";
import { OpNode, type OpFlowNode, type OpNodeData } from "./OpNode";
import { Palette } from "./Palette";
import type { CanvasData, Sender } from "./types";
import { useEdits } from "./useEdits";
import { useFitView } from "./useFitView";
import { useFlowElements } from "./useFlowElements";
import { useAckPainted, useGraphSync } from "./useGraphSync";
import { DELETE_KEYS, useKeyboard } from "./useKeyboard";
import { useLatest } from "./useLatest";
import { useSelection, useSelectionReport } from "./useSelection";

const nodeTypes = { op: OpNode };
// From this many cards on, React Flow draws only the cards and wires in view: a 1,000-node chain otherwise keeps
// 1,000 cards in the DOM and every check result repaints them (benchmarks/canvas_latency.py). Below it, every card
// stays in the DOM (small graphs gain nothing, and tests find any card by its test id).
const VISIBLE_ONLY_FROM = 200;

export function Canvas({ data, send }: { data: CanvasData; send: Sender }) {
  const pane = useRef<HTMLDivElement>(null);
  const ops = useLatest(data.ops);
  const layout = useLatest(data.layout);
  // The order of these hooks is the order their effects run in after an update from Python: adopt it, redraw,
  // close latency samples, refit, report the selection.
  const selection = useSelection(data);
  const sync = useGraphSync(data, send, selection);
  const flow = useFlowElements(sync.graph, sync.views, data.ops, selection);
  useAckPainted(flow.nodes, data.ack, sync.mount, sync.checked);
  const fit = useFitView(pane, flow.nodes, data.ack, sync.takeReplacement);
  useSelectionReport(flow.nodes, selection, sync.push);
  const edits = useEdits(sync, selection, ops, layout, pane);

  const { command: sendCommand } = sync;
  const { fitAfterNextReplacement } = fit;
  const command = useCallback((kind: "undo" | "redo" | "layout") => {
    if (kind === "layout") fitAfterNextReplacement();
    sendCommand({ kind, nonce: Date.now() });
  }, [sendCommand, fitAfterNextReplacement]);
  useKeyboard(command);

  // The toolbar's delete goes through React Flow, like the Delete key, so it reaches edits.onDelete.
  const rf = useReactFlow<OpFlowNode, Edge>();
  const deleteSelected = useCallback(() => {
    rf.deleteElements({ nodes: flow.nodes.filter((n) => n.selected), edges: flow.edges.filter((e) => e.selected) });
  }, [rf, flow.nodes, flow.edges]);
  const anySelected = useMemo(() => flow.nodes.some((n) => n.selected) || flow.edges.some((e) => e.selected),
    [flow.nodes, flow.edges]);
  // Python's verdict, the same as the problems panel's: from the quick check while it is ahead of the rerun
  const verdict = sync.verdict ?? data.verdict;
  const ok = verdict.ok;
  const synced = sync.acked >= sync.edited; // Python has adopted every edit (the session has them)
  const checked = sync.checked >= sync.edited; // every edit's check is drawn

  return (
    <HealthContext.Provider value={data.health ?? null}>
    <div className="cv-root" style={{ height: data.height }} data-testid="cv-root">
      <Palette groups={data.palette} onPick={edits.onPick} />
      <div className={fit.fitted ? "cv-flow" : "cv-flow cv-unfitted"} ref={pane} onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; }}
        onDrop={edits.onDrop} data-testid="cv-flow">
        <CommandContext.Provider value={sendCommand}>
        <InnerSelectionContext.Provider value={data.select}>
        <ReactFlow<OpFlowNode, Edge>
          nodes={flow.nodes}
          edges={flow.edges}
          nodeTypes={nodeTypes}
          onNodesChange={flow.onNodesChange}
          onEdgesChange={flow.onEdgesChange}
          onNodeDragStop={edits.onNodeDragStop}
          onDelete={edits.onDelete}
          onConnect={edits.onConnect}
          isValidConnection={edits.isValidConnection}
          deleteKeyCode={DELETE_KEYS}
          minZoom={0.1}
          maxZoom={2}
          defaultEdgeOptions={{ type: "default" }}
          proOptions={{ hideAttribution: true }}
          onlyRenderVisibleElements={flow.nodes.length >= VISIBLE_ONLY_FROM}
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
            <button type="button" onClick={fit.fitAll}
              title="Zoom to fit the whole network" aria-label="Zoom to fit" data-testid="cv-fit"><Icon name="fit" /></button>
          </Panel>
          <Panel position="top-right" className={`cv-status ${!checked ? "cv-busy" : ok ? "cv-synced" : "cv-bad"}`}>
            <span data-testid="cv-status" data-synced={synced ? "1" : "0"} data-seq={sync.edited} data-ack={sync.acked}
              data-checked={sync.checked} data-rev={data.rev}>
              <span className="cv-status-dot" />
              {checked ? verdict.text : "Checking…"}
            </span>
          </Panel>
          <Panel position="bottom-center"><HealthLegend /></Panel>
        </ReactFlow>
        </InnerSelectionContext.Provider>
        </CommandContext.Provider>
      </div>
    </div>
    </HealthContext.Provider>
  );
}
