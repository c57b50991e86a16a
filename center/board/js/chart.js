// A small line chart of the readings behind an alert, drawn as plain SVG.

import { h } from "./dom.js";
import { clock } from "./time.js";

const WIDTH = 600;
const HEIGHT = 160;
const PAD = { left: 44, right: 10, top: 10, bottom: 22 };

export function readingsChart(readings) {
  const points = readings.map((item) => ({ at: Date.parse(typeof item.ts === "number" ? new Date(item.ts).toISOString() : item.ts), value: item.value }))
    .filter((point) => Number.isFinite(point.at) && Number.isFinite(point.value))
    .sort((a, b) => a.at - b.at);
  if (!points.length) return null;
  const first = points[0].at;
  const last = points[points.length - 1].at;
  let low = Math.min(...points.map((point) => point.value));
  let high = Math.max(...points.map((point) => point.value));
  if (low === high) { low -= 1; high += 1; }
  const x = (at) => PAD.left + (last === first ? 0.5 : (at - first) / (last - first)) * (WIDTH - PAD.left - PAD.right);
  const y = (value) => PAD.top + (1 - (value - low) / (high - low)) * (HEIGHT - PAD.top - PAD.bottom);
  const line = points.map((point) => `${x(point.at).toFixed(1)},${y(point.value).toFixed(1)}`).join(" ");
  const label = (value) => (Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2));
  return h("svg:svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img",
    "aria-label": "readings" },
  h("svg:line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(high), y2: y(high) }),
  h("svg:line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(low), y2: y(low) }),
  h("svg:text", { class: "axis", x: 4, y: y(high) + 4 }, label(high)),
  h("svg:text", { class: "axis", x: 4, y: y(low) + 4 }, label(low)),
  h("svg:text", { class: "axis", x: PAD.left, y: HEIGHT - 6 }, clock(new Date(first).toISOString())),
  h("svg:text", { class: "axis", x: WIDTH - PAD.right, y: HEIGHT - 6, "text-anchor": "end" },
    clock(new Date(last).toISOString())),
  h("svg:polyline", { class: "line", points: line }),
  points.map((point) => h("svg:circle", { cx: x(point.at), cy: y(point.value), r: 3 },
    h("svg:title", {}, `${clock(new Date(point.at).toISOString())}  ${point.value}`))));
}
