import { describe, expect, it } from "vitest";
import {
  addNode, canConnect, connect, createsCycle, cutEdges, hasMoved, move, newId, newNode, portsFor, refsOf, remove,
} from "../src/model";
import { chain, g, OPS } from "./fixtures";

function frozen<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

describe("portsFor", () => {
  it("gives a single-input op one unlabelled port", () => {
    expect(portsFor(g("c", "Conv2d", ["x"]), OPS.Conv2d)).toEqual([{ id: "in0", label: "", kind: "input" }]);
  });

  it("gives an input op no port", () => {
    expect(portsFor(g("x", "Input"), OPS.Input)).toEqual([]);
  });

  it("numbers the ports of an op taking any number of inputs and keeps one spare", () => {
    expect(portsFor(g("cat", "Concat"), OPS.Concat).map((p) => [p.id, p.label])).toEqual([["in0", "1"], ["in1", "2"]]);
    const three = portsFor(g("cat", "Concat", ["a", "b", "c"]), OPS.Concat);
    expect(three.map((p) => p.id)).toEqual(["in0", "in1", "in2", "in3"]);
    expect(three.map((p) => p.label)).toEqual(["1", "2", "3", "4"]);
  });

  it("names ordered ports and never shows more than the op takes", () => {
    expect(portsFor(g("s", "Sub", ["a", "b"]), OPS.Sub).map((p) => [p.id, p.label])).toEqual([["in0", "a"], ["in1", "b"]]);
  });

  it("adds a dashed port per node reference after the inputs", () => {
    expect(portsFor(g("u", "MaxUnpool2d", ["p"]), OPS.MaxUnpool2d)).toEqual([
      { id: "in0", label: "", kind: "input" }, { id: "ref:pool", label: "pool", kind: "ref" }]);
  });

  it("falls back to one input for an op the table does not know", () => {
    expect(portsFor(g("q", "Mystery"), undefined)).toEqual([{ id: "in0", label: "", kind: "input" }]);
  });
});

describe("ids and new nodes", () => {
  it("takes the first free number for a prefix", () => {
    expect(newId("conv", [])).toBe("conv1");
    expect(newId("conv", [g("conv1", "Conv2d"), g("conv3", "Conv2d")])).toBe("conv2");
    expect(newId("relu", chain())).toBe("relu2");
  });

  it("wires a new node to the node it follows unless its op takes no input", () => {
    const nodes = chain();
    expect(newNode(nodes, "Conv2d", "conv", 5, 6, "pool1", OPS)).toEqual(g("conv2", "Conv2d", ["pool1"], {}, 5, 6));
    expect(newNode(nodes, "Input", "x", 0, 0, "pool1", OPS).inputs).toEqual([]);
    expect(newNode(nodes, "ReLU", "relu", 0, 0, null, OPS)).toMatchObject({ id: "relu2", inputs: [] });
  });

  it("names a node after its op when the palette gives no prefix", () => {
    expect(newNode([], "Concat", "", 0, 0, null, OPS).id).toBe("concat1");
  });

  it("appends without touching the input", () => {
    const nodes = chain();
    const before = frozen(nodes);
    const out = addNode(nodes, g("n", "ReLU"));
    expect(out.map((n) => n.id)).toEqual(["x", "conv1", "relu1", "pool1", "unpool1", "n"]);
    expect(nodes).toEqual(before);
  });
});

describe("connecting", () => {
  it("finds the node references a node holds", () => {
    expect(refsOf(g("u", "MaxUnpool2d", ["p"], { pool: "pool1" }), OPS)).toEqual(["pool1"]);
    expect(refsOf(g("u", "MaxUnpool2d", ["p"], { pool: "" }), OPS)).toEqual([]);
    expect(refsOf(g("c", "Conv2d", ["x"], { pool: "pool1" }), OPS)).toEqual([]);
  });

  it("sees a loop through inputs and through references", () => {
    const nodes = chain();
    expect(createsCycle(nodes, "relu1", "conv1", OPS)).toBe(true);
    expect(createsCycle(nodes, "conv1", "conv1", OPS)).toBe(true);
    expect(createsCycle(nodes, "conv1", "pool1", OPS)).toBe(false);
    const viaRef = [g("a", "MaxPool2d", ["b"]), g("b", "MaxUnpool2d", [], { pool: "c" }), g("c", "ReLU")];
    expect(createsCycle(viaRef, "a", "c", OPS)).toBe(true);
  });

  it("refuses wires into an input op, into a missing node and into loops; allows reference ports", () => {
    const nodes = [...chain(), g("x2", "Input")];
    expect(canConnect(nodes, "conv1", "x2", "in0", OPS)).toBe(false);
    expect(canConnect(nodes, "conv1", "nowhere", "in0", OPS)).toBe(false);
    expect(canConnect(nodes, "pool1", "conv1", "in0", OPS)).toBe(false);
    expect(canConnect(nodes, "x2", "relu1", "in0", OPS)).toBe(true);
    expect(canConnect(nodes, "relu1", "unpool1", "ref:pool", OPS)).toBe(true);
  });

  it("replaces the only input of a single-input op whatever the handle", () => {
    const out = connect(chain(), "x", "relu1", "in3", OPS.ReLU);
    expect(out.find((n) => n.id === "relu1")!.inputs).toEqual(["x"]);
  });

  it("fills the slot of an ordered port, or appends past the end", () => {
    const nodes = [g("a", "ReLU"), g("b", "ReLU"), g("c", "ReLU"), g("cat", "Concat", ["a", "b"])];
    expect(connect(nodes, "c", "cat", "in1", OPS.Concat)[3].inputs).toEqual(["a", "c"]);
    expect(connect(nodes, "c", "cat", "in2", OPS.Concat)[3].inputs).toEqual(["a", "b", "c"]);
    expect(connect(nodes, "c", "cat", "in9", OPS.Concat)[3].inputs).toEqual(["a", "b", "c"]);
    expect(connect(nodes, "c", "cat", null, OPS.Concat)[3].inputs).toEqual(["c", "b"]);
  });

  it("sets a reference param through a ref port and leaves the inputs alone", () => {
    const out = connect(chain(), "relu1", "unpool1", "ref:pool", OPS.MaxUnpool2d);
    expect(out[4]).toMatchObject({ inputs: ["pool1"], params: { pool: "relu1" } });
  });

  it("returns new objects only for the node it changed", () => {
    const nodes = chain();
    const before = frozen(nodes);
    const out = connect(nodes, "x", "relu1", "in0", OPS.ReLU);
    expect(nodes).toEqual(before);
    expect(out[0]).toBe(nodes[0]);
    expect(out[2]).not.toBe(nodes[2]);
  });
});

describe("deleting", () => {
  it("keeps only the edges not attached to a deleted node, as (target, handle)", () => {
    const edges = [
      { source: "x", target: "conv1", targetHandle: "in0" },
      { source: "conv1", target: "relu1", targetHandle: "in0" },
      { source: "pool1", target: "unpool1", targetHandle: "ref:pool" },
      { source: "a", target: "b" },
    ];
    expect(cutEdges(edges, new Set(["conv1"]))).toEqual([
      { target: "unpool1", handle: "ref:pool" }, { target: "b", handle: "in0" }]);
  });

  it("removes a node and every wire to it; references to it become empty", () => {
    const out = remove(chain(), new Set(["pool1"]), [], OPS);
    expect(out.map((n) => n.id)).toEqual(["x", "conv1", "relu1", "unpool1"]);
    expect(out[3]).toMatchObject({ inputs: [], params: { pool: "" } });
  });

  it("cuts one edge: the inputs close up", () => {
    const nodes = [g("a", "ReLU"), g("b", "ReLU"), g("c", "ReLU"), g("cat", "Concat", ["a", "b", "c"])];
    const out = remove(nodes, new Set(), [{ target: "cat", handle: "in1" }], OPS);
    expect(out[3].inputs).toEqual(["a", "c"]);
    expect(out.slice(0, 3)).toEqual(nodes.slice(0, 3));
  });

  it("cuts a reference edge without touching the input", () => {
    const out = remove(chain(), new Set(), [{ target: "unpool1", handle: "ref:pool" }], OPS);
    expect(out[4]).toMatchObject({ inputs: ["pool1"], params: { pool: "" } });
  });

  it("keeps untouched nodes as the same objects and never mutates", () => {
    const nodes = chain();
    const before = frozen(nodes);
    const out = remove(nodes, new Set(["unpool1"]), [], OPS);
    expect(out).toHaveLength(4);
    out.forEach((n, i) => expect(n).toBe(nodes[i]));
    expect(nodes).toEqual(before);
  });
});

describe("moving", () => {
  it("notices a move of more than half a pixel only", () => {
    const nodes = chain();
    expect(hasMoved(nodes, new Map([["conv1", { x: 0.4, y: 119.6 }]]))).toBe(false);
    expect(hasMoved(nodes, new Map([["conv1", { x: 0.6, y: 120 }]]))).toBe(true);
    expect(hasMoved(nodes, new Map([["ghost", { x: 50, y: 50 }]]))).toBe(false);
  });

  it("rounds new positions to a tenth of a pixel and leaves the others", () => {
    const nodes = chain();
    const out = move(nodes, new Map([["relu1", { x: 10.26, y: -3.14159 }]]));
    expect(out[2]).toMatchObject({ x: 10.3, y: -3.1 });
    expect(out[1]).toBe(nodes[1]);
    expect(nodes[2]).toMatchObject({ x: 0, y: 240 });
  });
});
