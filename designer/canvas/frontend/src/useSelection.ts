// The selection. React Flow keeps which cards are selected; Python is told the one selected node (it shows that
// node's properties form). Python selects a node itself when it replaced the graph or when the user picked a
// problem in its list (a new `select.nonce`): that selection is forced onto the next redraw, and the canvas
// centres on the node.
import { useEffect, useRef, useState } from "react";
import { useReactFlow } from "@xyflow/react";
import type { OpFlowNode } from "./OpNode";
import { centreOf } from "./placement";
import type { CanvasData } from "./types";

/** What Python knows is selected, and a selection waiting to be applied by the next redraw. */
export class SelectionStore {
  /** The node Python was last told is selected (null: none, or several). */
  id: string | null;
  private forced: string | null | undefined;

  constructor(id: string | null) {
    this.id = id;
    this.forced = id;
  }

  /** Select `id` (null: nothing) on the next redraw; it is what Python knows from now on. */
  force(id: string | null): void {
    this.id = id;
    this.forced = id;
  }

  /** The selection the redraw must apply (undefined: keep React Flow's), and clear it. */
  take(): string | null | undefined {
    const f = this.forced;
    this.forced = undefined;
    return f;
  }

  /** Every selected card when several are (else empty): what Python was last told. */
  many: string[] = [];

  /** React Flow's cards now have `ids` selected. True when Python must be told a new multi-selection (two or
   * more cards, or no longer several), unless a pending redraw is about to replace it. */
  adoptMany(ids: string[]): boolean {
    const many = ids.length > 1 ? ids : [];
    if (this.forced !== undefined || many.join("\n") === this.many.join("\n")) return false;
    this.many = many;
    return true;
  }

  /** React Flow's cards now have `one` selected (null: none or several). True when Python must be told: the
   * selection changed and is not one a pending redraw is about to replace. */
  adopt(one: string | null): boolean {
    if (one === this.id || this.forced !== undefined) return false;
    this.id = one;
    return true;
  }
}

/** The one selected card, or null when none or several are. */
export function soleSelected(nodes: { id: string; selected?: boolean }[]): string | null {
  const ids = nodes.filter((n) => n.selected).map((n) => n.id);
  return ids.length === 1 ? ids[0] : null;
}

/** The selection store; selections Python makes with a new nonce are forced and centred on. */
export function useSelection(data: CanvasData): SelectionStore {
  const rf = useReactFlow();
  const [store] = useState(() => new SelectionStore(data.select.id));
  const nonce = useRef(data.select.nonce);
  useEffect(() => {
    if (data.select.nonce === nonce.current) return;
    nonce.current = data.select.nonce;
    store.force(data.select.id);
    const n = data.nodes.find((v) => v.id === data.select.id);
    if (n) {
      const c = centreOf(n, data.layout);
      rf.setCenter(c.x, c.y, { zoom: Math.max(rf.getZoom(), 0.8), duration: 250 });
    }
  }, [data, rf, store]);
  return store;
}

/** Tells Python (through `report`) when the user's selection of cards changes. */
export function useSelectionReport(nodes: OpFlowNode[], store: SelectionStore, report: () => void): void {
  useEffect(() => {
    const one = store.adopt(soleSelected(nodes));
    const many = store.adoptMany(nodes.filter((n) => n.selected).map((n) => n.id));
    if (one || many) report();
  }, [nodes, store, report]);
}
