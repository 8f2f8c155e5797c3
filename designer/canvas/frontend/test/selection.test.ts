import { describe, expect, it } from "vitest";
import { historyKey } from "../src/useKeyboard";
import { SelectionStore, soleSelected } from "../src/useSelection";

describe("SelectionStore", () => {
  it("applies Python's first selection on the first redraw, once", () => {
    const s = new SelectionStore("conv1");
    expect(s.take()).toBe("conv1");
    expect(s.take()).toBeUndefined();
    expect(s.id).toBe("conv1");
  });

  it("reports a user's change of selection once, and not while a forced one is pending", () => {
    const s = new SelectionStore(null);
    expect(s.adopt("relu1")).toBe(false); // the initial forced selection (none) is not drawn yet
    s.take();
    expect(s.adopt("relu1")).toBe(true);
    expect(s.id).toBe("relu1");
    expect(s.adopt("relu1")).toBe(false);
    s.force("pool1");
    expect(s.id).toBe("pool1");
    expect(s.adopt(null)).toBe(false);
    expect(s.take()).toBe("pool1");
    expect(s.adopt(null)).toBe(true);
    expect(s.id).toBeNull();
  });
});

describe("soleSelected", () => {
  it("is the one selected card, or null for none or several", () => {
    expect(soleSelected([{ id: "a", selected: true }, { id: "b" }])).toBe("a");
    expect(soleSelected([{ id: "a" }, { id: "b", selected: false }])).toBeNull();
    expect(soleSelected([{ id: "a", selected: true }, { id: "b", selected: true }])).toBeNull();
  });
});

describe("historyKey", () => {
  const key = (k: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; shiftKey: boolean }> = {}) =>
    ({ key: k, ctrlKey: false, metaKey: false, shiftKey: false, ...mods });

  it("maps Ctrl/Cmd+Z to undo and Ctrl+Shift+Z / Ctrl+Y to redo", () => {
    expect(historyKey(key("z", { ctrlKey: true }), null)).toBe("undo");
    expect(historyKey(key("z", { metaKey: true }), null)).toBe("undo");
    expect(historyKey(key("Z", { ctrlKey: true, shiftKey: true }), null)).toBe("redo");
    expect(historyKey(key("y", { ctrlKey: true }), null)).toBe("redo");
  });

  it("ignores keys without Ctrl/Cmd, other keys, and typing in a field", () => {
    expect(historyKey(key("z"), null)).toBeNull();
    expect(historyKey(key("x", { ctrlKey: true }), null)).toBeNull();
    expect(historyKey(key("z", { ctrlKey: true }), { tagName: "INPUT" })).toBeNull();
    expect(historyKey(key("z", { ctrlKey: true }), { tagName: "TEXTAREA" })).toBeNull();
    expect(historyKey(key("z", { ctrlKey: true }), { tagName: "DIV", isContentEditable: true })).toBeNull();
    expect(historyKey(key("z", { ctrlKey: true }), { tagName: "DIV" })).toBe("undo");
  });
});
