// Each measurement over time, one uPlot chart per (test, measurement), from the
// results in view.  uPlot comes from `make setup` (npm); without it the page says so
// here and the values stay readable in the history below.

import { el } from "./dom.js";

const MAX_CHARTS = 12;
let plots = [];

export function renderCharts(box, results) {
  for (const p of plots) p.destroy();
  plots = [];
  box.replaceChildren();
  const series = new Map(); // "test · name" -> {unit, limit, points: [[t, v]]}
  for (const r of results) {
    const t = Date.parse(r.result && r.result.endTime || r.receivedAt) / 1000;
    for (const m of (r.result && r.result.measurement) || []) {
      if (typeof m.value !== "number" || !isFinite(t)) continue;
      const key = r.testId + " · " + m.name;
      if (!series.has(key)) series.set(key, { unit: m.unit || "", limit: m.limit || "", points: [] });
      series.get(key).points.push([t, m.value]);
    }
  }
  if (!series.size) {
    box.append(el("p", { class: "hint" }, "No measurements in these results."));
    return;
  }
  if (typeof window.uPlot !== "function") {
    box.append(el("p", { class: "error chart-missing" },
      "Charts unavailable: the chart library is not installed (run make setup). " +
      "The measured values are listed with each result below."));
    return;
  }
  // Inside the figure's padding and border (2 × 5 px + 2 px), or it is cut off.
  const width = Math.max(200, Math.min(box.clientWidth || 600, 900) - 16);
  for (const [key, s] of [...series].slice(0, MAX_CHARTS)) {
    s.points.sort((a, b) => a[0] - b[0]);
    const fig = el("figure", { class: "chart", "data-series": key });
    fig.append(el("figcaption", {}, key + (s.unit ? " [" + s.unit + "]" : "") +
      (s.limit ? " · limit " + s.limit : "") + " · " + s.points.length + " point" +
      (s.points.length === 1 ? "" : "s")));
    box.append(fig);
    const data = [s.points.map((p) => p[0]), s.points.map((p) => p[1])];
    plots.push(new window.uPlot({
      width, height: 180, legend: { show: false },
      scales: { x: { time: true } },
      series: [{}, { label: key, stroke: "#1f6feb", width: 2, points: { size: 7 } }],
      axes: [{}, { size: 70 }],
    }, data, fig));
  }
}
