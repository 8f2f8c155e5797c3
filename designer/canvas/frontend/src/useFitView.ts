// What part of the network is in view. The first view shows the whole network at a readable zoom (or its top
// part); after Python replaced most of the graph (a template) or after an auto-layout, the view is fitted again.
// Otherwise the viewport is the user's: edits and reruns leave it alone.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type RefObject } from "react";
import { useNodesInitialized, useReactFlow, type Edge } from "@xyflow/react";
import type { OpFlowNode } from "./OpNode";
import { readableViewport, replacesMost } from "./placement";
import type { Ack } from "./types";
import type { Replacement } from "./useGraphSync";

export interface FitView {
  /** Fit the view again once Python's next replacement of the graph is drawn (auto-layout moves everything). */
  fitAfterNextReplacement: () => void;
  /** Zoom to fit the whole network (the toolbar's button). */
  fitAll: () => void;
  /** Has the first view been fitted? Until then the cards are not shown (see below). */
  fitted: boolean;
}

export function useFitView(pane: RefObject<HTMLDivElement | null>, nodes: OpFlowNode[], ack: Ack | null,
  takeReplacement: () => Replacement | null): FitView {
  const rf = useReactFlow<OpFlowNode, Edge>();
  const fitOnNextRev = useRef(false);

  const readableFit = useCallback(() => {
    const box = pane.current?.getBoundingClientRect();
    const all = rf.getNodes();
    if (!box || !all.length) return;
    rf.setViewport(readableViewport(box, rf.getNodesBounds(all)));
  }, [rf, pane]);

  // The first fit happens before the measured cards are painted (a layout effect), and the cards stay hidden until
  // it has: otherwise they show for a frame or more at React Flow's default viewport and then jump, and a click
  // aimed at a card in that moment lands on whatever the fit moves under it (a loaded machine makes it long).
  const initialised = useNodesInitialized();
  const firstFit = useRef(false);
  const [fitted, setFitted] = useState(false);
  useLayoutEffect(() => {
    if (initialised && !firstFit.current) {
      firstFit.current = true;
      readableFit();
      setFitted(true);
    }
  }, [initialised, readableFit]);

  // A replacement is drawn after Python's answer arrived; the nodes are measured a moment later.
  useEffect(() => {
    const r = takeReplacement();
    if (!r) return;
    const fit = fitOnNextRev.current || replacesMost(r.before, r.after);
    fitOnNextRev.current = false;
    if (fit) window.setTimeout(readableFit, 80);
  }, [nodes, ack, readableFit, takeReplacement]);

  const fitAfterNextReplacement = useCallback(() => {
    fitOnNextRev.current = true;
  }, []);
  const fitAll = useCallback(() => {
    rf.fitView({ padding: 0.08, maxZoom: 1 });
  }, [rf]);
  return { fitAfterNextReplacement, fitAll, fitted };
}
