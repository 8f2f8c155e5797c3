// The messages between Python and the canvas. Python -> canvas: CanvasData (the component's `data`).
// Canvas -> Python: the "canvas" state value (CanvasState) after every committed edit or selection, and the
// "command" trigger (CanvasCommand) for what only Python can do (undo/redo, auto-layout, composite blocks).

export type Params = Record<string, unknown>;

/** A node as the graph file has it, plus its position: what the canvas edits and sends back. */
export interface GNode {
  id: string;
  op: string;
  params: Params;
  inputs: string[];
  x: number;
  y: number;
}

/** Python's view of one node: the graph fields plus what the live check found. */
export interface NodeView extends GNode {
  summary: string; // key parameters in a few characters ("5×5 · 32 · same")
  shape: string | null; // output shape "32×28×28" (batch excluded), null when unknown
  n_params: number;
  error: string | null; // the engine's message when this node is in error
  blocked: boolean; // an upstream node is in error, so this one's shape is unknown
  output: boolean; // one of the network's outputs
  module?: string; // a module instance: its module's name (designer/design/modules.py instance_view)
  expanded?: boolean; // a module instance drawn expanded: its inner layers in the card
  inner?: InnerView[]; // when expanded: one row per layer of its definition, checked inside this instance
  inner_h?: number; // when expanded: the height of the list of layers on the card (engine/reflow.py inner_height)
  row_h?: number; // ... and of one layer's row in it (LayoutSizes.inner_row_h)
}

/** One layer inside an expanded module instance, as the flat check found it. */
export interface InnerView {
  id: string; // the layer's id inside the module
  op: string;
  summary: string;
  shape: string | null;
  n_params: number;
  error: string | null;
}

export interface OpInfo {
  category: string;
  colour: string;
  min_inputs: number;
  max_inputs: number | null; // null: any number
  input_names: string[];
  refs: string[]; // params naming another node (MaxUnpool2d's pool): drawn as extra ports
}

export interface PaletteItem {
  kind: "op" | "block";
  name: string;
  title: string;
  doc: string;
  prefix: string;
  colour?: string; // in the pinned group: the item's own category colour
}

export interface PaletteGroup {
  category: string;
  colour: string;
  items: PaletteItem[];
  pinned?: boolean; // the most-used ops, shown first; they also appear in their own category
}

/** The sizes the canvas places new nodes with, sent by Python (the same ones its auto-layout uses), in px. */
export interface LayoutSizes {
  node_w: number; // a node card's width
  node_h: number; // a node card's height
  layer_dy: number; // vertical distance between a node and the layer below it
  col_dx: number; // horizontal distance between side-by-side columns
  inner_head_h: number; // an expanded module instance's list of layers: its title ...
  inner_row_h: number; // ... and one row per layer (Python makes room for them below the card: engine/reflow.py)
}

export interface Ack {
  mount: string;
  seq: number;
}

/** One node of the health overlay (Python computes every field). */
export interface NodeHealth {
  value: number | null; // the chosen quantity at the latest recorded step
  text: string; // the value as the badge shows it
  colour: string; // the badge colour on the legend's scale
  spark: (number | null)[]; // the quantity over the recorded steps, for the sparkline
  warning: string | null; // a warning about this node (engine.train.advice), if any
}

/** The per-layer diagnostics of the design's latest run, drawn on the canvas (Health.tsx). */
export interface Health {
  run: string; // the run's name, as the Train page lists it
  quantity: string;
  label: string; // the quantity in words
  step: number; // the latest recorded step
  live: boolean;
  scale: string[]; // the legend's colours, low to high
  low: string;
  high: string;
  nodes: Record<string, NodeHealth>;
}

/** Python's selection: a node (forced onto the canvas when `nonce` is new) and, when that node is a module instance
 * whose layer the Properties panel shows, the layer's id inside the definition. */
export interface SelectView {
  id: string | null;
  nonce: number;
  inner?: string | null;
}

export interface CanvasData {
  rev: number; // bumped when Python replaced the graph (template, undo, fix, form edit): the canvas redraws from it
  ack: Ack | null; // the last canvas edit Python has adopted and checked
  nodes: NodeView[];
  ops: Record<string, OpInfo>;
  palette: PaletteGroup[];
  select: SelectView;
  can_undo: boolean;
  can_redo: boolean;
  height: number;
  layout: LayoutSizes;
  health?: Health | null; // the training-health overlay, when a run of this design has diagnostics
  verdict: Verdict;
  quick?: QuickRoute | null; // where to ask for an edit's check without waiting for the rerun (designer/canvas/quick.py)
}

/** Python's verdict on the checked design (engine.verdict): the badge shows `text`, as the problems panel does. */
export interface Verdict {
  ok: boolean;
  problems: number; // every problem, those of the graph as a whole (no Input, no output) included
  nodes_in_error: number;
  text: string; // "All shapes check out" / "2 problems"
}

export interface CanvasState {
  rev: number; // the revision this edit was made on; Python ignores edits made on a replaced graph
  mount: string;
  seq: number;
  nodes: GNode[];
  selected: string | null;
  selected_ids: string[]; // every selected card when several are ("Make module" takes them)
}

export type CanvasCommand =
  | { kind: "undo" | "redo" | "layout"; nonce: number }
  | { kind: "add_block"; name: string; x: number; y: number; after: string | null; nonce: number }
  | { kind: "expand"; id: string; expanded: boolean; nonce: number }
  | { kind: "select_inner"; id: string; inner: string; nonce: number }; // a layer clicked on an expanded instance

/** How the canvas talks to Python: the "canvas" state value and the "command" trigger. */
export interface Sender {
  state: (s: CanvasState) => void;
  command: (c: CanvasCommand) => void;
}

/** The quick-check route: POST {token, rev, seq, nodes} -> QuickAnswer (designer/canvas/quick.py). */
export interface QuickRoute {
  url: string;
  token: string;
}

/** The check of one canvas edit, straight from Python: the same node views and verdict as CanvasData's. */
export interface QuickAnswer {
  rev: number;
  seq: number;
  nodes: NodeView[];
  verdict: Verdict;
}
