// Python sends the op table, the palette and the layout sizes with every answer, though they never change within
// a session. Handing React the previous objects when the new ones are equal keeps the memoised palette and
// everything keyed on `ops` from redrawing on each edit (benchmarks/canvas_latency.py: the paint part).
import type { CanvasData } from "./types";

const STATIC = ["ops", "palette", "layout"] as const;

export interface StableParts {
  json: Partial<Record<(typeof STATIC)[number], string>>;
  data: Partial<Pick<CanvasData, (typeof STATIC)[number]>>;
}

/** `data` with its op table, palette and layout replaced by the previous answer's objects when they are equal. */
export function stabilise(data: CanvasData, prev: StableParts): CanvasData {
  const out = { ...data };
  for (const k of STATIC) {
    const json = JSON.stringify(data[k]);
    if (json === prev.json[k] && prev.data[k] !== undefined) {
      (out as Record<string, unknown>)[k] = prev.data[k];
    } else {
      prev.json[k] = json;
      (prev.data as Record<string, unknown>)[k] = data[k];
    }
  }
  return out;
}
