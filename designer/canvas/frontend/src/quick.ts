// The quick check (designer/canvas/quick.py): each committed edit is also POSTed to a route of the app's server,
// which answers with Python's check of it (the same node views and verdict the page sends) without the page's
// rerun. The canvas draws that answer at once; the rerun's answer follows and takes over. Nothing depends on it:
// without the route (the app started from app.py), or when it refuses (the design was replaced since, 409), the
// canvas waits for the rerun as before.
import { traceStamp } from "./latency";
import type { GNode, QuickAnswer, QuickRoute } from "./types";

/** Ask for the check of edit `seq` (made on revision `rev`); null when there is no answer to draw. */
export async function askQuick(route: QuickRoute, rev: number, seq: number, nodes: GNode[]): Promise<QuickAnswer | null> {
  try {
    traceStamp("quick ask");
    const r = await fetch(route.url, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: route.token, rev, seq, nodes }),
    });
    traceStamp("quick response");
    const a = r.ok ? ((await r.json()) as QuickAnswer) : null;
    traceStamp("quick parsed");
    return a;
  } catch {
    return null; // the server is gone or restarting: the rerun (or the reconnect) answers
  }
}

/** Is this quick answer the one to draw now? Only the check of the newest edit, on the revision the canvas
 * still has, and only while the rerun has not answered that edit yet: an answer to an older edit would draw
 * shapes the canvas's structure no longer has. */
export function takeQuick(a: QuickAnswer, now: { rev: number; seq: number; acked: number }): boolean {
  return a.rev === now.rev && a.seq === now.seq && a.seq > now.acked;
}

/** Does a rerun's answer (acking edit `ackSeq`) carry older checks than the quick answer on screen? Then its node
 * views are not drawn over the quick ones (its ack still counts). */
export function staleRerun(ackSeq: number, quickSeq: number): boolean {
  return ackSeq < quickSeq;
}
