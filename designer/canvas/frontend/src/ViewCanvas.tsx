// A read-only canvas: one design with the diff's marks (designer/diff). Pan and zoom only; the cards are the
// editing canvas's (OpNode), outlined by what changed. Fitted to the whole network whenever another design arrives.
import { useEffect, useMemo } from "react";
import {
  Background, BackgroundVariant, Controls, Panel, ReactFlow, useEdgesState, useNodesInitialized, useNodesState,
  useReactFlow, type Edge,
} from "@xyflow/react";
import { OpNode, type OpFlowNode } from "./OpNode";
import { markCounts, viewEdges, viewNodes, type ViewData } from "./view";
import "./view.css";

const nodeTypes = { op: OpNode };

export function ViewCanvas({ data }: { data: ViewData }) {
  const [nodes, setNodes, onNodesChange] = useNodesState<OpFlowNode>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>([]);
  useEffect(() => {
    setNodes(viewNodes(data));
    setEdges(viewEdges(data));
  }, [data, setNodes, setEdges]);

  const rf = useReactFlow<OpFlowNode, Edge>();
  const initialised = useNodesInitialized();
  const shape = useMemo(() => data.nodes.map((n) => n.id).join("|"), [data.nodes]);
  useEffect(() => {
    if (initialised) void rf.fitView({ padding: 0.15, maxZoom: 1 });
  }, [initialised, shape, rf]);

  const legend = markCounts(data.marks);
  return (
    <div className="cv-root cv-view" style={{ height: data.height }} data-testid={`cv-view-${data.name}`}>
      <div className="cv-flow">
        <ReactFlow<OpFlowNode, Edge>
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          deleteKeyCode={null}
          minZoom={0.05}
          maxZoom={2}
          proOptions={{ hideAttribution: true }}
        >
          <Background variant={BackgroundVariant.Dots} gap={20} size={1.2} color="#cbd5e1" />
          <Controls showInteractive={false} position="bottom-left" />
          <Panel position="top-left" className="cv-view-legend">
            <strong>{data.title}</strong>
            {legend.map(([k, n]) => (
              <span key={k} className={`cv-chip cv-chip-${k}`} data-testid={`cv-view-${data.name}-${k}`}>
                {n} {k}</span>
            ))}
          </Panel>
        </ReactFlow>
      </div>
    </div>
  );
}
