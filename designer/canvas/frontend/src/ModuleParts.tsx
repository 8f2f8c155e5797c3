// A module instance's card parts: the expand/collapse toggle (a command to Python, which stores it as the
// instance's ui state, one undoable step) and, when expanded, its definition's layers drawn beside the card with
// the shape and parameter count each has inside this instance, the broken one in red. Read-only: the layers are
// edited in the Properties panel, where a change reaches every instance.
import { createContext, useContext } from "react";
import { NodeToolbar, Position } from "@xyflow/react";
import { formatCount } from "./OpNode";
import type { CanvasCommand, InnerView } from "./types";

/** How a card sends a command to Python (Canvas provides it). */
export const CommandContext = createContext<(c: CanvasCommand) => void>(() => undefined);

export function ModuleToggle({ id, expanded }: { id: string; expanded: boolean }) {
  const command = useContext(CommandContext);
  return (
    <button type="button" className="cv-expand nodrag" data-testid={`cv-expand-${id}`}
      data-expanded={expanded ? "1" : "0"} aria-label={expanded ? "Collapse module" : "Expand module"}
      title={expanded ? "Collapse: show only the module's output" : "Expand: show the module's layers"}
      onClick={(e) => { e.stopPropagation(); command({ kind: "expand", id, expanded: !expanded, nonce: Date.now() }); }}>
      {expanded ? "▾" : "▸"}
    </button>
  );
}

export function ModuleInner({ id, module, inner }: { id: string; module: string; inner: InnerView[] }) {
  return (
    <NodeToolbar nodeId={id} isVisible position={Position.Right} offset={10} className="cv-inner"
      data-testid={`cv-inner-${id}`}>
      <div className="cv-inner-head">{module}</div>
      {inner.map((m) => (
        <div key={m.id} className={`cv-inner-row${m.error ? " cv-inner-error" : ""}`}
          data-testid={`cv-inner-${id}-${m.id}`} data-state={m.error ? "error" : "ok"}
          title={m.error ?? (m.summary || undefined)}>
          <div><span className="cv-inner-id">{m.id}</span> <span className="cv-inner-op">{m.op}</span></div>
          <div>
            <span className="cv-inner-shape" data-testid={`cv-inner-shape-${id}-${m.id}`}>
              {m.shape ?? (m.error ? "error" : "—")}</span>
            {m.n_params > 0 ? <span className="cv-inner-params"> · {formatCount(m.n_params)} params</span> : null}
          </div>
        </div>
      ))}
    </NodeToolbar>
  );
}
