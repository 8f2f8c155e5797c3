// The Design page redraws in two steps after a canvas edit: Python answers the canvas alone first (its run sends
// nothing else, so the browser takes the answer in at once), and the rest of the page (totals, problems, the
// table) follows once the canvas has painted that answer. An answer that asks for this carries `follow`; the canvas
// sends it back as the "painted" trigger after the frame that shows it, once per answer.
import { useEffect, useRef } from "react";
import type { OpFlowNode } from "./OpNode";
import { useLatest } from "./useLatest";
import type { Sender } from "./types";

export function usePaintedReport(nodes: OpFlowNode[], follow: number | null | undefined, send: Sender): void {
  const sendRef = useLatest(send);
  const reported = useRef<number | null>(null);
  useEffect(() => {
    if (follow === null || follow === undefined || follow === reported.current) return;
    reported.current = follow;
    // after the next frame is painted, out of its way
    requestAnimationFrame(() => window.setTimeout(() => sendRef.current.painted(follow), 0));
  }, [nodes, follow, sendRef]);
}
