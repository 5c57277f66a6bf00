// Charts drawn as plain SVG: grouped or stacked bars and lines over categories.
// Every chart is a <figure> with a caption, a legend and an aria-label that reads the data.

import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#3366cc", "#dc7633", "#2e9e5b", "#b0305a", "#7d4fb3", "#1f8fa6", "#c9a227", "#6b6f76"];

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Round a maximum up to a readable axis end, with ~4–6 ticks. */
export function niceScale(max, { percent = false } = {}) {
  if (percent) return { top: max > 1 ? Math.ceil(max) : 1, step: max > 1 ? Math.ceil(max) / 5 : 0.2 };
  if (!(max > 0)) return { top: 1, step: 1 };
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((m) => m >= raw);
  return { top: Math.ceil(max / step) * step, step };
}

function fmtTick(value, percent) {
  if (percent) return `${Math.round(value * 100)}%`;
  if (Math.abs(value) >= 10000) return `${Math.round(value / 1000)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function frame({ categories, width, height, margin, top, step, percent, yLabel }) {
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart-svg", preserveAspectRatio: "xMidYMid meet", "aria-hidden": "true" });
  const plotH = height - margin.top - margin.bottom;
  const plotW = width - margin.left - margin.right;
  const y = (v) => margin.top + plotH - (v / top) * plotH;
  for (let t = 0; t <= top + step / 1000; t += step) {
    svg.append(s("line", { x1: margin.left, x2: width - margin.right, y1: y(t), y2: y(t), class: t === 0 ? "axis" : "grid" }));
    svg.append(s("text", { x: margin.left - 6, y: y(t) + 4, "text-anchor": "end", class: "tick" }, fmtTick(t, percent)));
  }
  if (yLabel) svg.append(s("text", { x: 12, y: margin.top + plotH / 2, transform: `rotate(-90 12 ${margin.top + plotH / 2})`, "text-anchor": "middle", class: "axis-label" }, yLabel));
  const band = plotW / Math.max(categories.length, 1);
  const every = Math.max(1, Math.ceil(categories.length / Math.floor(plotW / 56)));
  categories.forEach((c, i) => {
    if (i % every !== 0) return;
    const x = margin.left + band * i + band / 2;
    svg.append(s("text", { x, y: height - margin.bottom + 16, "text-anchor": "middle", class: "tick" }, String(c)));
  });
  return { svg, y, band, plotH, plotW };
}

function legend(series) {
  return h("ul", { class: "legend" }, series.map((ser) => h("li", null, h("span", { class: "key", style: { background: ser.color } }), ser.name)));
}

function describe(title, categories, series, percent) {
  const fmt = (v) => (v === null || v === undefined ? "无" : percent ? `${(v * 100).toFixed(1)}%` : String(v));
  const parts = categories.slice(0, 24).map((c, i) => `${c}：${series.map((ser) => `${ser.name} ${fmt(ser.values[i])}`).join("，")}`);
  return `${title}。${parts.join("；")}${categories.length > 24 ? "……" : ""}`;
}

function withColors(series) {
  return series.map((ser, i) => ({ ...ser, color: ser.color || PALETTE[i % PALETTE.length] }));
}

/**
 * Bars: one group per category, one bar per series (or stacked).
 * { title, categories: [..], series: [{ name, values: [..], color? }], stacked, percent, yLabel }
 */
export function barChart({ title, categories, series, stacked = false, percent = false, yLabel, height = 280, width = 760 }) {
  series = withColors(series);
  const margin = { top: 16, right: 16, bottom: 32, left: 56 };
  const totals = categories.map((_, i) => series.reduce((sum, ser) => sum + (Number(ser.values[i]) || 0), 0));
  const max = stacked ? Math.max(0, ...totals) : Math.max(0, ...series.flatMap((ser) => ser.values.map((v) => Number(v) || 0)));
  const { top, step } = niceScale(max, { percent });
  const { svg, y, band } = frame({ categories, width, height, margin, top, step, percent, yLabel });
  const inner = band * 0.72;
  categories.forEach((c, i) => {
    const x0 = margin.left + band * i + (band - inner) / 2;
    let base = 0;
    series.forEach((ser, k) => {
      const v = Number(ser.values[i]) || 0;
      if (!v) return;
      const label = `${c} · ${ser.name}：${percent ? fmtTick(v, true) : v}`;
      if (stacked) {
        svg.append(s("rect", { x: x0, width: inner, y: y(base + v), height: Math.max(0.5, y(base) - y(base + v)), fill: ser.color }, s("title", {}, label)));
        base += v;
      } else {
        const w = inner / series.length;
        svg.append(s("rect", { x: x0 + w * k, width: Math.max(1, w - 1), y: y(v), height: Math.max(0.5, y(0) - y(v)), fill: ser.color }, s("title", {}, label)));
      }
    });
  });
  return h("figure", { class: "chart", role: "img", "aria-label": describe(title, categories, series, percent) },
    h("figcaption", null, title), svg, legend(series));
}

/** Lines over categories (gaps where a value is null). Same arguments as barChart. */
export function lineChart({ title, categories, series, percent = false, yLabel, height = 260, width = 760 }) {
  series = withColors(series);
  const margin = { top: 16, right: 16, bottom: 32, left: 56 };
  const max = Math.max(0, ...series.flatMap((ser) => ser.values.filter((v) => v !== null && v !== undefined).map(Number)));
  const { top, step } = niceScale(max, { percent });
  const { svg, y, band } = frame({ categories, width, height, margin, top, step, percent, yLabel });
  const x = (i) => margin.left + band * i + band / 2;
  for (const ser of series) {
    let d = "";
    let pen = false;
    ser.values.forEach((v, i) => {
      if (v === null || v === undefined || Number.isNaN(Number(v))) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(Number(v)).toFixed(1)}`;
      pen = true;
    });
    svg.append(s("path", { d, fill: "none", stroke: ser.color, "stroke-width": 2.5 }));
    ser.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      svg.append(s("circle", { cx: x(i), cy: y(Number(v)), r: 3.5, fill: ser.color },
        s("title", {}, `${categories[i]} · ${ser.name}：${percent ? fmtTick(Number(v), true) : v}`)));
    });
  }
  return h("figure", { class: "chart", role: "img", "aria-label": describe(title, categories, series, percent) },
    h("figcaption", null, title), svg, legend(series));
}
