// A small op table and graph shaped like what Python sends (designer/design/convert.py: op_table, node_views).
import type { GNode, LayoutSizes, NodeView, OpInfo } from "../src/types";

function op(category: string, min: number, max: number | null, extra: Partial<OpInfo> = {}): OpInfo {
  return { category, colour: "#123456", min_inputs: min, max_inputs: max, input_names: [], refs: [], ...extra };
}

export const OPS: Record<string, OpInfo> = {
  Input: op("Input", 0, 0),
  Conv2d: op("Convolution", 1, 1),
  ReLU: op("Activation", 1, 1),
  MaxPool2d: op("Pooling", 1, 1),
  Concat: op("Merge", 2, null),
  Sub: op("Merge", 2, 2, { input_names: ["a", "b"] }),
  MaxUnpool2d: op("Pooling", 1, 1, { refs: ["pool"] }),
};

export function g(id: string, op: string, inputs: string[] = [], params: Record<string, unknown> = {}, x = 0,
  y = 0): GNode {
  return { id, op, params, inputs, x, y };
}

/** x -> conv1 -> relu1 -> pool1 -> unpool1 (pool: pool1) */
export function chain(): GNode[] {
  return [
    g("x", "Input", [], { shape: [1, 28, 28] }),
    g("conv1", "Conv2d", ["x"], { out_channels: 8 }, 0, 120),
    g("relu1", "ReLU", ["conv1"], {}, 0, 240),
    g("pool1", "MaxPool2d", ["relu1"], { kernel_size: 2 }, 0, 360),
    g("unpool1", "MaxUnpool2d", ["pool1"], { pool: "pool1" }, 0, 480),
  ];
}

export function view(n: GNode, extra: Partial<NodeView> = {}): NodeView {
  return { ...n, summary: "", shape: "8×28×28", n_params: 80, error: null, blocked: false, output: false, ...extra };
}

export const SIZES: LayoutSizes = { node_w: 200, node_h: 76, layer_dy: 120, col_dx: 236, inner_head_h: 18, inner_row_h: 34 };
