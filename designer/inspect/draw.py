"""A small drawing pad (Streamlit Components v2, inline HTML/JS, no build step): draw a digit with the mouse or a
finger; the pad sends its pixels (SIDE×SIDE grey values) when a stroke ends and every few hundred milliseconds
while drawing, so the prediction follows the pen. Python turns them into the model input (inspect_inputs)."""
from __future__ import annotations

from collections.abc import Callable
from functools import cache

import streamlit as st

SIDE = 84  # pixels sent to Python: 3× MNIST's 28, enough to crop and centre the digit the way MNIST did
VIEW = 252  # on-screen size of the pad in CSS pixels

_HTML = f"""
<div class="pad">
  <canvas width="{VIEW}" height="{VIEW}" aria-label="drawing pad"></canvas>
  <div class="row"><button type="button" class="clear">Clear</button>
  <span class="hint">draw a digit, light on dark</span></div>
</div>
"""

_CSS = """
.pad { display: inline-flex; flex-direction: column; gap: 6px; }
canvas { background: #000; border-radius: 6px; cursor: crosshair; touch-action: none;
         border: 1px solid var(--st-border-color, #ccc); }
.row { display: flex; gap: 10px; align-items: center; }
button { font: inherit; padding: 2px 12px; border-radius: 6px; cursor: pointer;
         border: 1px solid var(--st-border-color, #ccc); background: var(--st-background-color, #fff);
         color: var(--st-text-color, #222); }
.hint { color: var(--st-text-color, #666); opacity: .7; font-size: .85em; }
"""

_JS = f"""
export default function (component) {{
  const {{ parentElement, setStateValue }} = component;
  const canvas = parentElement.querySelector("canvas");
  if (canvas.dataset.ready) return;  // called again on reruns: the pad and its drawing stay as they are
  canvas.dataset.ready = "1";
  const ctx = canvas.getContext("2d");
  const small = document.createElement("canvas");
  small.width = small.height = {SIDE};
  const sctx = small.getContext("2d", {{ willReadFrequently: true }});
  const clear = () => {{ ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); }};
  clear();
  ctx.strokeStyle = "#fff"; ctx.lineWidth = {VIEW} / 12; ctx.lineCap = "round"; ctx.lineJoin = "round";
  let drawing = false, last = null, lastSent = 0;
  const at = (e) => {{ const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height]; }};
  const send = () => {{
    lastSent = Date.now();
    sctx.drawImage(canvas, 0, 0, {SIDE}, {SIDE});
    const d = sctx.getImageData(0, 0, {SIDE}, {SIDE}).data;
    const grey = new Array({SIDE} * {SIDE});
    for (let i = 0; i < grey.length; i++) grey[i] = d[4 * i];
    setStateValue("pixels", grey);
  }};
  canvas.addEventListener("pointerdown", (e) => {{
    drawing = true; last = at(e); canvas.setPointerCapture(e.pointerId);
    ctx.beginPath(); ctx.arc(last[0], last[1], ctx.lineWidth / 2, 0, 2 * Math.PI); ctx.fillStyle = "#fff"; ctx.fill();
  }});
  canvas.addEventListener("pointermove", (e) => {{
    if (!drawing) return;
    const p = at(e);
    ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
    last = p;
    if (Date.now() - lastSent > 400) send();  // the prediction follows the pen without a rerun per mouse move
  }});
  const end = () => {{ if (drawing) {{ drawing = false; send(); }} }};
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointerleave", end);
  parentElement.querySelector("button.clear").addEventListener("click", () => {{
    clear(); setStateValue("pixels", null);
  }});
}}
"""


@cache
def _component():
    return st.components.v2.component("convas_inspect_draw", html=_HTML, css=_CSS, js=_JS)


def drawing_pad(key: str, on_change: Callable[[], None] | None = None) -> list | None:
    """Mount the pad (always with the same key, so the drawing survives reruns); returns the last pixels sent
    (a flat list of SIDE×SIDE grey values 0-255) or None when blank."""
    result = _component()(key=key, default={"pixels": None}, height="content",
                          on_pixels_change=on_change or (lambda: None))
    return getattr(result, "pixels", None)
