// The Streamlit Components v2 entry: Streamlit calls the default export on mount and again whenever Python sends
// new data. One React root per host element is kept and re-rendered, so the canvas's own state (positions being
// dragged, selection, viewport) survives every rerun.
import { StrictMode } from "react";
import { createRoot, type Root } from "react-dom/client";
import { ReactFlowProvider } from "@xyflow/react";
import type { FrontendRenderer, FrontendRendererArgs } from "@streamlit/component-v2-lib";
import "@xyflow/react/dist/style.css";
import "./canvas.css";
import { Canvas } from "./Canvas";
import { latency } from "./latency";
import { stabilise, type StableParts } from "./stableData";
import type { CanvasData, Sender } from "./types";
import { isViewData } from "./view";
import { ViewCanvas } from "./ViewCanvas";

interface Mounted {
  root: Root;
  host: HTMLDivElement;
  generation: number;
  stable: StableParts;
}

const mounted = new WeakMap<HTMLElement | ShadowRoot, Mounted>();

const render: FrontendRenderer = (args: FrontendRendererArgs) => {
  const { parentElement, setStateValue, setTriggerValue } = args;
  let m = mounted.get(parentElement);
  if (!m) {
    const host = document.createElement("div");
    host.className = "cv-host";
    parentElement.appendChild(host);
    m = { root: createRoot(host), host, generation: 0, stable: { json: {}, data: {} } };
    mounted.set(parentElement, m);
  }
  const data = stabilise(args.data as CanvasData, m.stable);
  const generation = ++m.generation;
  if (data.ack) {
    latency.arrived(data.ack.mount, data.ack.seq);
    latency.rerun(data.ack.mount, data.ack.seq);
  }
  const send: Sender = {
    state: (s) => setStateValue("canvas", s),
    command: (c) => setTriggerValue("command", c),
  };
  m.root.render(
    <StrictMode>
      <ReactFlowProvider>
        {isViewData(args.data) ? <ViewCanvas data={args.data} /> : <Canvas data={data} send={send} />}
      </ReactFlowProvider>
    </StrictMode>,
  );
  // Streamlit may run the cleanup of a superseded call right after a newer call rendered: unmount only if no newer
  // call came in meanwhile (a real unmount: the page changed or the element went away).
  const current = m;
  return () => {
    window.setTimeout(() => {
      if (current.generation !== generation || mounted.get(parentElement) !== current) return;
      current.root.unmount();
      current.host.remove();
      mounted.delete(parentElement);
    }, 250);
  };
};

export default render;
