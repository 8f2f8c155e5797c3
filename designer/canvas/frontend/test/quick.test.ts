import { afterEach, describe, expect, it, vi } from "vitest";
import { askQuick, staleRerun, takeQuick } from "../src/quick";
import type { QuickAnswer } from "../src/types";

const answer = (rev: number, seq: number): QuickAnswer => ({
  rev, seq, nodes: [], verdict: { ok: true, problems: 0, nodes_in_error: 0, text: "All shapes check out" },
});

describe("takeQuick", () => {
  it("draws the check of the newest edit on the revision the canvas has", () => {
    expect(takeQuick(answer(2, 7), { rev: 2, seq: 7, acked: 6 })).toBe(true);
  });
  it("leaves an answer to an older edit alone: the canvas's structure has moved on", () => {
    expect(takeQuick(answer(2, 6), { rev: 2, seq: 7, acked: 5 })).toBe(false);
  });
  it("leaves an answer for a replaced revision alone", () => {
    expect(takeQuick(answer(1, 7), { rev: 2, seq: 7, acked: 6 })).toBe(false);
  });
  it("leaves it alone when the rerun has already answered that edit", () => {
    expect(takeQuick(answer(2, 7), { rev: 2, seq: 7, acked: 7 })).toBe(false);
  });
});

describe("staleRerun", () => {
  it("keeps the quick views over a rerun that answers an older edit", () => {
    expect(staleRerun(6, 7)).toBe(true);
  });
  it("lets a rerun of the same edit or a newer one take over", () => {
    expect(staleRerun(7, 7)).toBe(false);
    expect(staleRerun(8, 7)).toBe(false);
    expect(staleRerun(3, 0)).toBe(false);
  });
});

describe("askQuick", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("posts the token, revision, edit number and nodes, and returns the answer", async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify(answer(4, 9)), { status: 200 }));
    vi.stubGlobal("fetch", fetch);
    const nodes = [{ id: "input", op: "Input", params: {}, inputs: [], x: 0, y: 0 }];
    await expect(askQuick({ url: "/convas/check", token: "t" }, 4, 9, nodes)).resolves.toEqual(answer(4, 9));
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/convas/check");
    expect(init.method).toBe("POST");
    expect(JSON.parse(init.body as string)).toEqual({ token: "t", rev: 4, seq: 9, nodes });
  });
  it("answers null when the route refuses or the server is gone: the rerun answers instead", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response("{}", { status: 409 })));
    await expect(askQuick({ url: "/x", token: "t" }, 1, 1, [])).resolves.toBeNull();
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("Failed to fetch"); }));
    await expect(askQuick({ url: "/x", token: "t" }, 1, 1, [])).resolves.toBeNull();
  });
});
