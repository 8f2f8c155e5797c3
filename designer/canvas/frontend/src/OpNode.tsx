// One layer on the canvas: a card with the op, its id, its key parameters, the output shape and parameter count
// the live check computed, and the engine's message when the node is in error. Input ports on top (ordered and
// labelled for multi-input ops, dashed for node references), one output port at the bottom.
import { memo, useState } from "react";
import { ErrorNote } from "./ErrorNote";
import { Handle, Position, type NodeProps, type Node } from "@xyflow/react";
import type { Port } from "./model";
import { HealthBadge } from "./Health";
import { ModuleToggle, ModuleInner } from "./ModuleParts";
import type { InnerView } from "./types";

export interface OpNodeData extends Record<string, unknown> {
  op: string;
  colour: string;
  summary: string;
  shape: string | null;
  nParams: number;
  error: string | null;
  blocked: boolean;
  pending: boolean; // added on the canvas, not yet checked by Python
  output: boolean;
  ports: Port[];
  hasOutput: boolean;
  module: string | null; // a module instance's module name
  expanded: boolean; // drawn expanded: its inner layers in the card
  inner: InnerView[] | null;
  innerH: number | null; // the expanded list's height and its rows' (Python's sizes: it makes room for them)
  rowH: number | null;
}

export type OpFlowNode = Node<OpNodeData, "op">;

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}k`;
  return n.toLocaleString("en-US");
}

function OpNodeView({ id, data, selected }: NodeProps<OpFlowNode>) {
  const { op, colour, summary, shape, nParams, error, blocked, pending, output, ports } = data;
  const state = error ? "error" : blocked ? "blocked" : pending ? "pending" : "ok";
  const n = ports.length;
  const [hover, setHover] = useState(false);
  return (
    <div
      className={`cv-node cv-${state}${selected ? " cv-selected" : ""}${data.module ? " cv-instance" : ""}`}
      style={{ ["--cat" as string]: colour }}
      data-testid={`cv-node-${id}`}
      data-state={state}
      onMouseEnter={error ? () => setHover(true) : undefined}
      onMouseLeave={() => setHover(false)}
    >
      {ports.map((p, i) => (
        <Handle
          key={p.id}
          id={p.id}
          type="target"
          position={Position.Top}
          className={`cv-port cv-port-${p.kind}`}
          style={{ left: `${((i + 1) / (n + 1)) * 100}%` }}
          data-testid={`cv-port-${id}-${p.id}`}
        >
          {p.label ? <span className="cv-port-label">{p.label}</span> : null}
        </Handle>
      ))}
      <div className="cv-head">
        <span className="cv-op" title={op}>{op}</span>
        <span className="cv-id" title={id}>{id}</span>
        {data.module ? <ModuleToggle id={id} expanded={data.expanded} /> : null}
      </div>
      {summary ? <div className="cv-summary">{summary}</div> : null}
      <div className="cv-stats">
        <span className="cv-shape" data-testid={`cv-shape-${id}`}>
          {shape ?? (error ? "error" : blocked ? "waiting on input" : pending ? "checking…" : "—")}
        </span>
        {output ? <span className="cv-badge" title="One of the network's outputs">out</span> : null}
        {shape && nParams > 0 ? <span className="cv-params">{formatCount(nParams)} params</span> : null}
      </div>
      <HealthBadge id={id} />
      {error ? <ErrorNote id={id} error={error} open={hover} /> : null}
      {data.module && data.expanded && data.inner ? <ModuleInner id={id} module={data.module} inner={data.inner}
        height={data.innerH} rowHeight={data.rowH} /> : null}
      {data.hasOutput ? (
        <Handle id="out" type="source" position={Position.Bottom} className="cv-port cv-port-out"
          data-testid={`cv-port-${id}-out`} />
      ) : null}
    </div>
  );
}

export const OpNode = memo(OpNodeView);
