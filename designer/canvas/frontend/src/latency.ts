// Measures what a user feels: milliseconds from a committed canvas edit to the frame that shows Python's check
// of it, and the part of that spent before the answer reached the canvas (the round trip through Streamlit and
// the script run). Kept on window.__convasLatency for the browser test that reports p50 / p95.
interface Store {
  started: Record<string, number>;
  arrived: Record<string, number>;
  samples: number[]; // edit -> painted frame with the check
  roundTrips: number[]; // edit -> Python's answer handed to the canvas (the quick check's, or the rerun's if first)
  sent: Record<string, number>; // edits the rerun has not answered yet
  reruns: number[]; // edit -> the page rerun's answer handed to the canvas (whatever answered first)
  // the same edits on the machine's clock (ms since the epoch), to line up with the server's CONVAS_TRACE stamps
  log: { seq: number; sent: number; arrived?: number; painted: number }[];
}

declare global {
  interface Window {
    __convasLatency?: Store;
    __convasWs?: { t: number; e: string }[]; // benchmarks/canvas_latency.py --trace: the browser's stamps
  }
}

/** A stamp in the --trace timeline (a no-op unless the benchmark asked for one). */
export function traceStamp(e: string): void {
  if (typeof window !== "undefined") window.__convasWs?.push({ t: performance.timeOrigin + performance.now(), e });
}

function store(): Store {
  // a test may reset window.__convasLatency to {started: {}, samples: []}: fill in what is missing, keep the rest
  const w = (window.__convasLatency ?? {}) as Partial<Store>;
  w.started ??= {};
  w.arrived ??= {};
  w.samples ??= [];
  w.roundTrips ??= [];
  w.sent ??= {};
  w.reruns ??= [];
  w.log ??= [];
  window.__convasLatency = w as Store;
  return w as Store;
}

function openUpTo(s: Store, mount: string, seq: number): string[] {
  return Object.keys(s.started).filter((k) => k.startsWith(`${mount}:`) && Number(k.split(":")[1]) <= seq);
}

export const latency = {
  start(mount: string, seq: number): void {
    const s = store();
    s.started[`${mount}:${seq}`] = s.sent[`${mount}:${seq}`] = performance.now();
  },
  /** The page's rerun answered every edit up to `seq` (its data acks it). */
  rerun(mount: string, seq: number): void {
    const s = store();
    const t = performance.now();
    for (const k of Object.keys(s.sent)) {
      if (k.startsWith(`${mount}:`) && Number(k.split(":")[1]) <= seq) {
        s.reruns.push(t - s.sent[k]);
        delete s.sent[k];
      }
    }
  },
  /** Python's answer covering every edit up to `seq` was handed to the component. */
  arrived(mount: string, seq: number): void {
    const s = store();
    const t = performance.now();
    for (const k of openUpTo(s, mount, seq)) s.arrived[k] ??= t;
  },
  /** ...and is rendered: stamp those edits once the next frame is painted. */
  done(mount: string, seq: number): void {
    const s = store();
    const open = openUpTo(s, mount, seq);
    if (!open.length) return;
    const marks = open.map((k) => [s.started[k], s.arrived[k], Number(k.split(":")[1])] as const);
    for (const k of open) {
      delete s.started[k];
      delete s.arrived[k];
    }
    requestAnimationFrame(() => {
      const t1 = performance.now();
      const epoch = performance.timeOrigin;
      for (const [t0, ta, seq] of marks) {
        s.samples.push(t1 - t0);
        if (ta !== undefined) s.roundTrips.push(ta - t0);
        s.log.push({ seq, sent: epoch + t0, arrived: ta === undefined ? undefined : epoch + ta, painted: epoch + t1 });
      }
    });
  },
};
