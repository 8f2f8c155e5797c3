// Pure geometry: where new nodes go, where a node's centre is, and the first view of a network. Sizes come from
// Python (LayoutSizes in CanvasData.layout), the same ones its auto-layout uses.
import type { GNode, LayoutSizes } from "./types";

export interface XY {
  x: number;
  y: number;
}

export interface Rect extends XY {
  width: number;
  height: number;
}

export interface Viewport extends XY {
  zoom: number;
}

/** The centre of the card whose top-left corner is `p`. */
export function centreOf(p: XY, s: LayoutSizes): XY {
  return { x: p.x + s.node_w / 2, y: p.y + s.node_h / 2 };
}

/** The top-left corner (whole pixels) of a card centred on `c`. */
export function cornerAt(c: XY, s: LayoutSizes): XY {
  return { x: Math.round(c.x - s.node_w / 2), y: Math.round(c.y - s.node_h / 2) };
}

/** Where a node appended after `anchor` goes: one layer below it (and below the `extra` height an expanded module
 * instance's card has: Python's `inner_h`); one column to the right when something already reads from `anchor`, so
 * the new card does not land on top of that one. */
export function below(anchor: GNode, nodes: GNode[], s: LayoutSizes, extra = 0): XY {
  const branch = nodes.some((n) => n.inputs.includes(anchor.id));
  return { x: branch ? anchor.x + s.col_dx : anchor.x, y: anchor.y + s.layer_dy + (branch ? 0 : extra) };
}

/** The first view of a network whose cards span `bounds`, in a pane of `box`'s size: the whole network if it fits
 * at a readable zoom (at least `minZoom`, at most 1), else its top part, centred horizontally, at that zoom. */
export function readableViewport(box: { width: number; height: number }, bounds: Rect, pad = 48,
  minZoom = 0.7): Viewport {
  const fit = Math.min(1, (box.width - 2 * pad) / Math.max(bounds.width, 1),
    (box.height - 2 * pad) / Math.max(bounds.height, 1));
  const zoom = Math.max(fit, minZoom);
  const x = box.width / 2 - (bounds.x + bounds.width / 2) * zoom;
  const y = zoom > fit ? pad - bounds.y * zoom : box.height / 2 - (bounds.y + bounds.height / 2) * zoom;
  return { x, y, zoom };
}

/** Did a replacement of the graph change most of it (fewer than half the nodes kept)? Then the view is refitted. */
export function replacesMost(before: GNode[], after: GNode[]): boolean {
  const old = new Set(before.map((n) => n.id));
  const common = after.filter((n) => old.has(n.id)).length;
  return common < 0.5 * Math.max(after.length, old.size, 1);
}
