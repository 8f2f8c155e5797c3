import { describe, expect, it } from "vitest";
import { stabilise, type StableParts } from "../src/stableData";
import type { CanvasData } from "../src/types";
import { OPS } from "./fixtures";

function data(nodes: number, colour = "#123456"): CanvasData {
  return {
    rev: 0, ack: null, nodes: [], select: { id: null, nonce: 0 }, can_undo: false, can_redo: false,
    height: 700 + nodes,
    ops: { ...OPS, Conv2d: { ...OPS.Conv2d, colour } },
    palette: [{ group: "Convolution", colour, items: [] }] as unknown as CanvasData["palette"],
    layout: { node_w: 180, node_h: 76, layer_dy: 100, col_dx: 220 } as CanvasData["layout"],
    verdict: { ok: true, problems: 0, nodes_in_error: 0, text: "All shapes check out" },
  };
}

describe("stabilise", () => {
  it("hands back the first answer's op table, palette and layout while they stay equal", () => {
    const prev: StableParts = { json: {}, data: {} };
    const a = stabilise(data(0), prev);
    const b = stabilise(data(1), prev);
    expect(b.ops).toBe(a.ops);
    expect(b.palette).toBe(a.palette);
    expect(b.layout).toBe(a.layout);
    expect(b.height).toBe(701); // the rest is the new answer's
  });

  it("takes the new objects when they changed", () => {
    const prev: StableParts = { json: {}, data: {} };
    const a = stabilise(data(0), prev);
    const b = stabilise(data(0, "#654321"), prev);
    expect(b.ops).not.toBe(a.ops);
    expect(b.ops.Conv2d.colour).toBe("#654321");
    expect(b.layout).toBe(a.layout);
  });
});
