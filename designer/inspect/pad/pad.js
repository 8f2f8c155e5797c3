// The drawing pad (a Streamlit Components v2 component, hand-written, no build step; registered by
// designer/inspect/draw.py). Draw a digit with the mouse or a finger: the pad sends its pixels (side×side grey
// values 0-255, light on dark) as the state value "pixels" when a stroke ends and every few hundred milliseconds
// while drawing, so the prediction follows the pen; Clear sends null.
// data (from Python): { side: pixels per edge sent, view: on-screen size of the pad in CSS pixels }.

const SEND_EVERY_MS = 400; // while drawing: often enough to follow the pen, without a rerun per mouse move

function build(parentElement, view) {
  const pad = document.createElement("div");
  pad.className = "pad";
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = view;
  canvas.setAttribute("aria-label", "drawing pad");
  const row = document.createElement("div");
  row.className = "row";
  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "clear";
  clear.textContent = "Clear";
  const hint = document.createElement("span");
  hint.className = "hint";
  hint.textContent = "draw a digit, light on dark";
  row.append(clear, hint);
  pad.append(canvas, row);
  parentElement.appendChild(pad);
  return { canvas, clear };
}

export default function (component) {
  const { parentElement, setStateValue, data } = component;
  // called again on every rerun: the pad and its drawing stay as they are
  if (parentElement.querySelector(".pad")) return;
  const side = data.side;
  const { canvas, clear: clearButton } = build(parentElement, data.view);
  const ctx = canvas.getContext("2d");
  const small = document.createElement("canvas");
  small.width = small.height = side;
  const sctx = small.getContext("2d", { willReadFrequently: true });
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = canvas.width / 12;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  let drawing = false;
  let last = null;
  let lastSent = 0;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  const send = () => {
    lastSent = Date.now();
    sctx.drawImage(canvas, 0, 0, side, side);
    const d = sctx.getImageData(0, 0, side, side).data;
    const grey = new Array(side * side);
    for (let i = 0; i < grey.length; i++) grey[i] = d[4 * i];
    setStateValue("pixels", grey);
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    last = at(e);
    canvas.setPointerCapture(e.pointerId);
    ctx.beginPath();
    ctx.arc(last[0], last[1], ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fillStyle = "#fff";
    ctx.fill();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = at(e);
    ctx.beginPath();
    ctx.moveTo(last[0], last[1]);
    ctx.lineTo(p[0], p[1]);
    ctx.stroke();
    last = p;
    if (Date.now() - lastSent > SEND_EVERY_MS) send();
  });
  const end = () => {
    if (drawing) {
      drawing = false;
      send();
    }
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointerleave", end);
  clearButton.addEventListener("click", () => {
    clear();
    setStateValue("pixels", null);
  });
}
