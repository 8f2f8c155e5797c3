// React Flow's nodes and edges, redrawn from the canvas's graph and Python's views whenever either changes.
// React Flow's own changes (selection, dragging, measuring) are applied as they come; removals are not: a delete
// is an edit, committed through onDelete, and the redraw removes the elements.
import { useCallback, useEffect, useState } from "react";
import { applyEdgeChanges, applyNodeChanges, type Edge, type EdgeChange, type NodeChange } from "@xyflow/react";
import { buildEdges, buildNodes, keepUnchanged, sameEdge } from "./flow";
import type { OpFlowNode } from "./OpNode";
import type { SelectionStore } from "./useSelection";
import type { GNode, NodeView, OpInfo } from "./types";

export interface FlowElements {
  nodes: OpFlowNode[];
  edges: Edge[];
  onNodesChange: (changes: NodeChange<OpFlowNode>[]) => void;
  onEdgesChange: (changes: EdgeChange<Edge>[]) => void;
}

export function useFlowElements(graph: GNode[], views: Map<string, NodeView>, ops: Record<string, OpInfo>,
  selection: SelectionStore): FlowElements {
  const [nodes, setNodes] = useState<OpFlowNode[]>([]);
  const [edges, setEdges] = useState<Edge[]>([]);

  useEffect(() => {
    const select = selection.take();
    setNodes((prev) => buildNodes(graph, views, ops, prev, select));
    setEdges((prev) => keepUnchanged(prev,
      buildEdges(graph, views, ops, new Set(prev.filter((e) => e.selected).map((e) => e.id))), sameEdge));
  }, [graph, views, ops, selection]);

  // A delete's changes are all removals: nothing to apply, and no new array (which would redraw every card and
  // wire while the edit's check is on its way).
  const onNodesChange = useCallback((changes: NodeChange<OpFlowNode>[]) => {
    const kept = changes.filter((c) => c.type !== "remove");
    if (kept.length) setNodes((nds) => applyNodeChanges(kept, nds));
  }, []);

  const onEdgesChange = useCallback((changes: EdgeChange<Edge>[]) => {
    const kept = changes.filter((c) => c.type !== "remove");
    if (kept.length) setEdges((eds) => applyEdgeChanges(kept, eds));
  }, []);

  return { nodes, edges, onNodesChange, onEdgesChange };
}
