// A red card's message: one line on the card, so the card keeps the height the layout spaces cards by and never
// grows over the card below it; the whole message in a popover under the card while the pointer is on it (a
// React Flow NodeToolbar: drawn above every card, at a readable size whatever the zoom).
import { NodeToolbar, Position } from "@xyflow/react";

export function ErrorNote({ id, error, open }: { id: string; error: string; open: boolean }) {
  return (
    <>
      <div className="cv-message" data-testid={`cv-error-${id}`}>{error}</div>
      <NodeToolbar nodeId={id} isVisible={open} position={Position.Bottom} offset={6} className="cv-popover"
        data-testid={`cv-popover-${id}`}>
        {error}
      </NodeToolbar>
    </>
  );
}
