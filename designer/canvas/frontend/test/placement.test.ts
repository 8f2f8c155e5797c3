import { describe, expect, it } from "vitest";
import { below, centreOf, cornerAt, readableViewport, replacesMost } from "../src/placement";
import { chain, g, SIZES } from "./fixtures";

describe("placing cards", () => {
  it("finds a card's centre from its corner and back, with the sizes Python sent", () => {
    expect(centreOf({ x: 10, y: 20 }, SIZES)).toEqual({ x: 110, y: 58 });
    expect(cornerAt({ x: 110, y: 58 }, SIZES)).toEqual({ x: 10, y: 20 });
    expect(cornerAt({ x: 100.4, y: 50.6 }, { ...SIZES, node_w: 100, node_h: 50 })).toEqual({ x: 50, y: 26 });
  });

  it("puts an appended node one layer below the last of a chain", () => {
    const nodes = chain();
    expect(below(nodes[4], nodes, SIZES)).toEqual({ x: 0, y: 600 });
  });

  it("moves it one column right when something already reads from its anchor", () => {
    const nodes = chain();
    expect(below(nodes[1], nodes, SIZES)).toEqual({ x: 236, y: 240 });
    expect(below(nodes[1], nodes, { ...SIZES, col_dx: 300, layer_dy: 150 })).toEqual({ x: 300, y: 270 });
  });

  it("puts it below the layers of an expanded instance, or beside them in the next column", () => {
    const nodes = chain();
    expect(below(nodes[4], nodes, SIZES, 154)).toEqual({ x: 0, y: 754 });
    expect(below(nodes[1], nodes, SIZES, 154)).toEqual({ x: 236, y: 240 });
  });
});

describe("readableViewport", () => {
  const box = { width: 800, height: 600 };

  it("shows a small network whole at zoom 1, centred", () => {
    const v = readableViewport(box, { x: 0, y: 0, width: 200, height: 300 });
    expect(v).toEqual({ x: 300, y: 150, zoom: 1 });
  });

  it("zooms out to fit a network that fits at a readable zoom", () => {
    const v = readableViewport(box, { x: 0, y: 0, width: 352, height: 630 });
    expect(v.zoom).toBeCloseTo(0.8);
    expect(v.y).toBeCloseTo(300 - 315 * 0.8);
  });

  it("shows the top of a tall network at the minimum readable zoom", () => {
    const v = readableViewport(box, { x: -100, y: 40, width: 200, height: 5000 });
    expect(v.zoom).toBe(0.7);
    expect(v.x).toBeCloseTo(400);
    expect(v.y).toBeCloseTo(48 - 40 * 0.7);
  });
});

describe("replacesMost", () => {
  it("is true when fewer than half the nodes survive a replacement", () => {
    const a = chain();
    expect(replacesMost(a, a)).toBe(false);
    expect(replacesMost(a, a.slice(0, 3))).toBe(false);
    expect(replacesMost(a, a.slice(0, 2))).toBe(true);
    expect(replacesMost(a, [g("other", "Input")])).toBe(true);
    expect(replacesMost([], [])).toBe(true);
  });
});
