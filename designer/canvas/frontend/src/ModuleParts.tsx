// A module instance's card parts: the expand/collapse toggle (a command to Python, which stores it as the
// instance's ui state, one undoable step) and, when expanded, its definition's layers drawn in the card, below its
// own lines, with the shape and parameter count each has inside this instance, the broken one in red with the
// engine's message on one line (all of it on hover, like a red card's). The list and each row are as tall as
// Python says (`inner_h`, `row_h` from engine.layout's SIZES): Python moves the cards below to make room for
// exactly that (engine/reflow.py), so an expanded card never covers another.
// Clicking a layer selects it (a command: Python keeps the selection and shows the layer's form in the Properties
// panel, where a change goes to the definition and so to every instance); the selected layer's row is marked.
import { createContext, useContext } from "react";
import { formatCount } from "./OpNode";
import type { CanvasCommand, InnerView, SelectView } from "./types";

/** How a card sends a command to Python (Canvas provides it). */
export const CommandContext = createContext<(c: CanvasCommand) => void>(() => undefined);

/** Python's selection (Canvas provides `data.select`): which instance's layer the Properties panel shows. */
export const InnerSelectionContext = createContext<SelectView | null>(null);

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

/** The layer of instance `id` that Python's Properties panel shows, or null. */
export function selectedLayer(select: SelectView | null, id: string): string | null {
  return select && select.id === id && select.inner ? select.inner : null;
}

export function ModuleInner({ id, module, inner, height, rowHeight }: { id: string; module: string;
  inner: InnerView[]; height: number | null; rowHeight: number | null }) {
  const command = useContext(CommandContext);
  const picked = selectedLayer(useContext(InnerSelectionContext), id);
  const pick = (layer: string) => command({ kind: "select_inner", id, inner: layer, nonce: Date.now() });
  const row = rowHeight === null ? undefined : { height: rowHeight };
  return (
    <div className={`cv-inner nodrag nopan${picked ? " cv-inner-editing" : ""}`} data-testid={`cv-inner-${id}`}
      style={height === null ? undefined : { height }}>
      <div className="cv-inner-head">{module}</div>
      {inner.map((m) => (
        <div key={m.id} role="button" tabIndex={0} style={row}
          className={`cv-inner-row${m.error ? " cv-inner-error" : ""}${picked === m.id ? " cv-inner-picked" : ""}`}
          data-testid={`cv-inner-${id}-${m.id}`} data-state={m.error ? "error" : "ok"}
          data-selected={picked === m.id ? "1" : "0"}
          title={`${m.error ?? (m.summary || m.op)}\nClick to edit this layer of ${module} (every instance changes)`}
          onClick={(e) => { e.stopPropagation(); pick(m.id); }}
          onKeyDown={(e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(m.id); } }}>
          <div><span className="cv-inner-id">{m.id}</span> <span className="cv-inner-op">{m.op}</span></div>
          <div>
            <span className="cv-inner-shape" data-testid={`cv-inner-shape-${id}-${m.id}`}>
              {m.shape ?? (m.error ? "error" : "—")}</span>
            {m.n_params > 0 ? <span className="cv-inner-params"> · {formatCount(m.n_params)} params</span> : null}
            {m.error ? <span className="cv-inner-msg" data-testid={`cv-inner-error-${id}-${m.id}`}> · {m.error}</span>
              : null}
          </div>
        </div>
      ))}
    </div>
  );
}
