// The health overlay of a training run on the canvas: per node a small badge coloured by the chosen quantity
// (activation mean/std, dead ReLUs, gradient norm, update ratio), its value, and a sparkline of its history on
// hover. Python computes everything (values, colours, the legend) and sends it as CanvasData.health; this file
// only draws it. OpNode reads it through HealthContext, so the memoised node cards need no new data fields.
import { createContext, useContext } from "react";
import type { Health, NodeHealth } from "./types";

export const HealthContext = createContext<Health | null>(null);

/** SVG polyline points for `values` in a w×h box (nulls skipped; a flat series is drawn in the middle). */
export function sparkPoints(values: (number | null)[], w: number, h: number): string {
  const pts = values.map((v, i) => [i, v] as const).filter((p): p is readonly [number, number] => p[1] !== null);
  if (pts.length === 0) return "";
  const ys = pts.map((p) => p[1]);
  const lo = Math.min(...ys), hi = Math.max(...ys);
  const n = Math.max(values.length - 1, 1);
  return pts.map(([i, v]) => {
    const x = (i / n) * w;
    const y = hi > lo ? h - ((v - lo) / (hi - lo)) * h : h / 2;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  }).join(" ");
}

function Spark({ node, label }: { node: NodeHealth; label: string }) {
  const w = 150, h = 36;
  return (
    <div className="cv-spark" data-testid="cv-spark">
      <div className="cv-spark-title">{label}: {node.text}</div>
      <svg width={w} height={h} viewBox={`0 0 ${w} ${h}`}>
        <polyline points={sparkPoints(node.spark, w, h)} fill="none" stroke={node.colour} strokeWidth={1.8} />
      </svg>
      {node.warning ? <div className="cv-spark-warn">{node.warning}</div> : null}
    </div>
  );
}

/** The badge in a node card; nothing when there is no run overlay or no value for this node. */
export function HealthBadge({ id }: { id: string }) {
  const health = useContext(HealthContext);
  const node = health?.nodes[id];
  if (!health || !node) return null;
  return (
    <div className={`cv-health${node.warning ? " cv-health-warn" : ""}`} data-testid={`cv-health-${id}`}
      data-value={node.value ?? ""} data-step={health.step}>
      <span className="cv-health-dot" style={{ background: node.colour }} />
      <span className="cv-health-text">{node.text}</span>
      <Spark node={node} label={health.label} />
    </div>
  );
}

/** The legend in the canvas corner: which run, which quantity, and what the colours mean. */
export function HealthLegend() {
  const health = useContext(HealthContext);
  if (!health) return null;
  return (
    <div className="cv-health-legend" data-testid="cv-health-legend" data-step={health.step}>
      <div className="cv-health-legend-title">{health.label} · {health.run} · step {health.step}</div>
      <div className="cv-health-scale" style={{ background: `linear-gradient(to right, ${health.scale.join(", ")})` }} />
      <div className="cv-health-ends"><span>{health.low}</span><span>{health.high}</span></div>
    </div>
  );
}
