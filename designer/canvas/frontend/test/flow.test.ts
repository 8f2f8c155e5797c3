import { describe, expect, it } from "vitest";
import { buildEdges, buildNodes, keepUnchanged, nodeData, sameEdge, sameWiring, toG } from "../src/flow";
import type { OpFlowNode } from "../src/OpNode";
import { chain, g, OPS, view } from "./fixtures";

function views(...vs: ReturnType<typeof view>[]) {
  return new Map(vs.map((v) => [v.id, v]));
}

describe("toG", () => {
  it("keeps the graph fields of Python's views and drops the check results", () => {
    const n = g("conv1", "Conv2d", ["x"], { out_channels: 8 }, 3, 4);
    expect(toG([view(n, { error: "bad" })])).toEqual([n]);
  });
});

describe("nodeData", () => {
  it("shows Python's results when its view matches the node", () => {
    const n = g("conv1", "Conv2d", ["x"], { out_channels: 8 });
    const d = nodeData(n, view(n, { error: "channels do not match", blocked: false, output: true }), OPS.Conv2d);
    expect(d).toMatchObject({ op: "Conv2d", colour: "#123456", shape: "8×28×28", nParams: 80,
      error: "channels do not match", pending: false, output: true, hasOutput: true });
    expect(d.ports.map((p) => p.id)).toEqual(["in0"]);
  });

  it("is pending, without Python's error, while the node's wiring is newer than Python's view", () => {
    const n = g("conv1", "Conv2d", ["x"], { out_channels: 8 });
    const old = view({ ...n, inputs: ["y"] }, { error: "old error", blocked: true });
    expect(sameWiring(old, n)).toBe(false);
    expect(nodeData(n, old, OPS.Conv2d)).toMatchObject({ pending: true, error: null, blocked: false });
    expect(nodeData(n, undefined, OPS.Conv2d)).toMatchObject({ pending: true, shape: null, nParams: 0 });
  });

  it("treats a parameter change as new wiring, a move as not", () => {
    const n = g("conv1", "Conv2d", ["x"], { out_channels: 8 });
    expect(sameWiring(view({ ...n, params: { out_channels: 16 } }), n)).toBe(false);
    expect(sameWiring(view({ ...n, x: 99, y: 99 }), n)).toBe(true);
  });

  it("greys an op the table does not know", () => {
    expect(nodeData(g("q", "Mystery"), undefined, undefined).colour).toBe("#6b7280");
  });
});

describe("buildNodes", () => {
  const graph = chain();
  const vs = views(...graph.map((n) => view(n)));

  it("places every node at its graph position as an op card", () => {
    const out = buildNodes(graph, vs, OPS, [], undefined);
    expect(out.map((n) => [n.id, n.type, n.position.y, n.selected])).toEqual([
      ["x", "op", 0, false], ["conv1", "op", 120, false], ["relu1", "op", 240, false], ["pool1", "op", 360, false],
      ["unpool1", "op", 480, false]]);
  });

  it("returns the same object for a node that did not change", () => {
    const first = buildNodes(graph, vs, OPS, [], undefined);
    const again = buildNodes(graph, vs, OPS, first, undefined);
    again.forEach((n, i) => expect(n).toBe(first[i]));
  });

  it("forces a selection, or keeps React Flow's", () => {
    const first = buildNodes(graph, vs, OPS, [], "relu1");
    expect(first.filter((n) => n.selected).map((n) => n.id)).toEqual(["relu1"]);
    const kept = buildNodes(graph, vs, OPS, first, undefined);
    expect(kept.filter((n) => n.selected).map((n) => n.id)).toEqual(["relu1"]);
    const none = buildNodes(graph, vs, OPS, first, null);
    expect(none.some((n) => n.selected)).toBe(false);
  });

  it("leaves a card being dragged where the pointer has it", () => {
    const first = buildNodes(graph, vs, OPS, [], undefined);
    const dragging = first.map((n) => n.id === "conv1"
      ? { ...n, dragging: true, position: { x: 50, y: 60 } } as OpFlowNode : n);
    const moved = graph.map((n) => n.id === "conv1" ? { ...n, x: 1, y: 2 } : n);
    const out = buildNodes(moved, vs, OPS, dragging, undefined);
    expect(out[1].position).toEqual({ x: 50, y: 60 });
    const dropped = buildNodes(moved, vs, OPS, first, undefined);
    expect(dropped[1].position).toEqual({ x: 1, y: 2 });
  });

  it("keeps the data object when only the position changed", () => {
    const first = buildNodes(graph, vs, OPS, [], undefined);
    const moved = graph.map((n) => n.id === "conv1" ? { ...n, x: 1 } : n);
    const out = buildNodes(moved, vs, OPS, first, undefined);
    expect(out[1]).not.toBe(first[1]);
    expect(out[1].data).toBe(first[1].data);
  });
});

describe("buildEdges", () => {
  it("draws one edge per input, labelled with the source's shape, and one dashed edge per reference", () => {
    const graph = chain();
    const vs = views(view(graph[0], { shape: "1×28×28" }), ...graph.slice(1).map((n) => view(n)));
    const edges = buildEdges(graph, vs, OPS, new Set(["e:conv1>relu1:in0"]));
    expect(edges.map((e) => [e.id, e.targetHandle, e.label ?? null, e.selected])).toEqual([
      ["e:x>conv1:in0", "in0", "1×28×28", false],
      ["e:conv1>relu1:in0", "in0", "8×28×28", true],
      ["e:relu1>pool1:in0", "in0", "8×28×28", false],
      ["e:pool1>unpool1:in0", "in0", "8×28×28", false],
      ["e:pool1>unpool1:ref:pool", "ref:pool", null, false],
    ]);
    expect(edges[4].className).toBe("cv-edge cv-edge-ref");
  });

  it("numbers the handles of a multi-input node and skips wires from nodes that are gone", () => {
    const graph = [g("a", "ReLU"), g("b", "ReLU"), g("cat", "Concat", ["a", "gone", "b"])];
    const edges = buildEdges(graph, new Map(), OPS, new Set());
    expect(edges.map((e) => e.id)).toEqual(["e:a>cat:in0", "e:b>cat:in2"]);
    expect(edges[0].label).toBeUndefined();
  });
});

describe("keepUnchanged", () => {
  it("keeps the previous edge objects that draw the same, and the previous array when nothing changed", () => {
    const graph = chain();
    const vs = views(...graph.map((n) => view(n)));
    const first = buildEdges(graph, vs, OPS, new Set());
    expect(keepUnchanged(first, buildEdges(graph, vs, OPS, new Set()), sameEdge)).toBe(first);

    const reshaped = views(view(graph[0], { shape: "1×28×28" }), ...graph.slice(1).map((n) => view(n)));
    const next = keepUnchanged(first, buildEdges(graph, reshaped, OPS, new Set()), sameEdge);
    expect(next).not.toBe(first);
    expect(next[0].label).toBe("1×28×28"); // the relabelled wire is new...
    expect(next.slice(1)).toEqual(first.slice(1));
    next.slice(1).forEach((e, i) => expect(e).toBe(first[i + 1])); // ...the others are the same objects
  });

  it("notices a removed, added or reordered element", () => {
    const a = { id: "a" }, b = { id: "b" };
    const same = (x: { id: string }, y: { id: string }) => x.id === y.id;
    expect(keepUnchanged([a, b], [a], same)).toEqual([a]);
    expect(keepUnchanged([a], [a, b], same)).toEqual([a, b]);
    const swapped = keepUnchanged([a, b], [{ id: "b" }, { id: "a" }], same);
    expect(swapped).toEqual([b, a]);
    expect(swapped[0]).toBe(b);
  });

  it("lets buildNodes hand back the same array when no card changed", () => {
    const graph = chain();
    const vs = views(...graph.map((n) => view(n)));
    const first = buildNodes(graph, vs, OPS, [], undefined);
    expect(buildNodes(graph, vs, OPS, first, undefined)).toBe(first);
  });
});
