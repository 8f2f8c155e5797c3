import { describe, expect, it } from "vitest";
import { sparkPoints } from "../src/Health";

describe("sparkPoints", () => {
  it("spans the box: the lowest value at the bottom, the highest at the top, nulls skipped", () => {
    expect(sparkPoints([1, null, 3], 100, 10)).toBe("0.0,10.0 100.0,0.0");
  });
  it("draws a flat series in the middle and nothing for no values", () => {
    expect(sparkPoints([2, 2], 10, 8)).toBe("0.0,4.0 10.0,4.0");
    expect(sparkPoints([null], 10, 8)).toBe("");
  });
});
