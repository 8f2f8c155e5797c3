// Module instances on the canvas: the multi-selection Python is told (for "Make module") and an instance's card
// data (its module, expanded state, inner layers), which must redraw when an inner layer's check changes.
import { describe, expect, it } from "vitest";
import { buildNodes, nodeData } from "../src/flow";
import { selectedLayer } from "../src/ModuleParts";
import { SelectionStore } from "../src/useSelection";
import type { InnerView, OpInfo } from "../src/types";
import { g, view } from "./fixtures";

const UNIT: OpInfo = { category: "Module", colour: "#7c6f9f", min_inputs: 1, max_inputs: 1, input_names: ["x"],
  refs: [] };

function inner(shape: string | null, error: string | null = null): InnerView[] {
  return [{ id: "conv", op: "Conv2d", summary: "$ch ch", shape, n_params: 10, error }];
}

describe("SelectionStore.adoptMany", () => {
  it("reports a selection of several cards once, and its end once", () => {
    const s = new SelectionStore(null);
    s.take();
    expect(s.adoptMany(["a"])).toBe(false); // one card: not a multi-selection
    expect(s.adoptMany(["a", "b"])).toBe(true);
    expect(s.many).toEqual(["a", "b"]);
    expect(s.adoptMany(["a", "b"])).toBe(false);
    expect(s.adoptMany(["a", "b", "c"])).toBe(true);
    expect(s.adoptMany(["c"])).toBe(true);
    expect(s.many).toEqual([]);
  });

  it("waits while Python's forced selection is pending", () => {
    const s = new SelectionStore(null);
    expect(s.adoptMany(["a", "b"])).toBe(false);
    s.take();
    expect(s.adoptMany(["a", "b"])).toBe(true);
  });
});

describe("instance cards", () => {
  it("carry the module, the expanded state and the inner layers Python sent", () => {
    const n = g("u1", "Unit", ["x"], { ch: 8 });
    const d = nodeData(n, view(n, { module: "Unit", expanded: true, inner: inner("8×6×6") }), UNIT);
    expect(d).toMatchObject({ module: "Unit", expanded: true, inner: inner("8×6×6") });
    const plain = nodeData(g("c", "Conv2d", ["x"]), undefined, UNIT);
    expect(plain).toMatchObject({ module: null, expanded: false, inner: null });
  });

  it("redraw when an inner layer's check changes (a definition edited elsewhere), keep their object otherwise", () => {
    const n = g("u1", "Unit", ["x"], { ch: 8 });
    const v1 = new Map([["u1", view(n, { module: "Unit", expanded: true, inner: inner("8×6×6") })]]);
    const first = buildNodes([n], v1, { Unit: UNIT }, [], undefined);
    const same = buildNodes([n], new Map([["u1", view(n, { module: "Unit", expanded: true,
      inner: inner("8×6×6") })]]), { Unit: UNIT }, first, undefined);
    expect(same[0]).toBe(first[0]);
    const broken = buildNodes([n], new Map([["u1", view(n, { module: "Unit", expanded: true,
      inner: inner(null, "kernel 40 is larger") })]]), { Unit: UNIT }, first, undefined);
    expect(broken[0]).not.toBe(first[0]);
    expect(broken[0].data.inner?.[0].error).toBe("kernel 40 is larger");
  });
});

describe("the selected layer of an instance", () => {
  it("is the layer Python shows, on that instance's card only", () => {
    expect(selectedLayer({ id: "u1", nonce: 3, inner: "conv" }, "u1")).toBe("conv");
    expect(selectedLayer({ id: "u1", nonce: 3, inner: "conv" }, "u2")).toBeNull(); // same definition, other card
    expect(selectedLayer({ id: "u1", nonce: 3, inner: null }, "u1")).toBeNull(); // the instance itself
    expect(selectedLayer({ id: "u1", nonce: 3 }, "u1")).toBeNull(); // an older Python sends no `inner`
    expect(selectedLayer(null, "u1")).toBeNull();
  });
});
