import { describe, expect, it } from "vitest";
import { isViewData, markCounts, viewEdges, viewNodes, type ViewData } from "../src/view";
import { chain, OPS, view } from "./fixtures";

function data(marks: Record<string, string>): ViewData {
  return { view: "diff", name: "a", title: "A", nodes: chain().map((n) => view(n)), ops: OPS, marks, height: 400 };
}

describe("the diff view", () => {
  it("is told apart from the editing canvas's data", () => {
    expect(isViewData(data({}))).toBe(true);
    expect(isViewData({ rev: 0, nodes: [] })).toBe(false);
    expect(isViewData(null)).toBe(false);
  });

  it("outlines marked nodes only, and nothing can be dragged, selected or connected", () => {
    const nodes = viewNodes(data({ conv1: "changed", pool1: "added" }));
    expect(nodes.map((n) => n.className)).toEqual([undefined, "cv-mark cv-mark-changed", undefined,
      "cv-mark cv-mark-added", undefined]);
    expect(nodes.every((n) => n.draggable === false && n.selectable === false && n.connectable === false
      && !n.selected)).toBe(true);
    expect(nodes[1].data.shape).toBe("8×28×28");
  });

  it("highlights the edges into added and rewired nodes", () => {
    const edges = viewEdges(data({ relu1: "rewired", pool1: "changed" }));
    const marked = edges.filter((e) => e.className?.includes("cv-edge-marked")).map((e) => e.target);
    expect(marked).toEqual(["relu1"]);
  });

  it("counts the marks in a fixed order", () => {
    expect(markCounts({ a: "changed", b: "added", c: "changed", d: "reshaped" })).toEqual([
      ["added", 1], ["changed", 2], ["reshaped", 1]]);
  });
});
