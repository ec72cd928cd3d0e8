#include "record/Report.h"

#include <nlohmann/json.hpp>

namespace exprt {
namespace {

std::string escapeHtml(const std::string &s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    default: out += c;
    }
  }
  return out;
}

// JSON inside <script>: "</" would close the element early.
std::string scriptSafe(const std::string &json) {
  std::string out;
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/')
      out += "<\\";
    else
      out += json[i];
  }
  return out;
}

constexpr const char *kStyle = R"css(
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { padding: .25em .8em; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; } figcaption { font-size: .9em; color: #555; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
.meta { color: #666; }
)css";

// Draws the report from the embedded JSON; plain DOM and SVG, no libraries.
constexpr const char *kScript = R"js(
"use strict";
const data = JSON.parse(document.getElementById("report-data").textContent);
const NS = "http://www.w3.org/2000/svg";
function el(tag, attrs, text) {
  const e = tag === "svg" || ["line", "circle", "path", "text", "g", "rect", "polyline"].includes(tag)
    ? document.createElementNS(NS, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function fmt(v) { return typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v); }
function colour(i) { return `hsl(${(i * 137.508) % 360}, 65%, 45%)`; }
// Axes with ticks, scaled to the data; returns the point mapper.
function axes(svg, xs, ys, w, h, xlabel, ylabel) {
  const pad = 58, x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = v => pad + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * (w - pad - 24);
  const sy = v => h - pad + (y1 > y0 ? -(v - y0) / (y1 - y0) : -0.5) * (h - pad - 10);
  svg.append(el("line", {x1: pad, y1: h - pad, x2: w - 10, y2: h - pad, stroke: "#999"}));
  svg.append(el("line", {x1: pad, y1: 10, x2: pad, y2: h - pad, stroke: "#999"}));
  for (const [v, x] of [[x0, sx(x0)], [x1, sx(x1)]]) svg.append(el("text", {x, y: h - pad + 14, "text-anchor": "middle"}, fmt(v)));
  for (const [v, y] of [[y0, sy(y0)], [y1, sy(y1)]]) svg.append(el("text", {x: pad - 4, y, "text-anchor": "end"}, fmt(v)));
  svg.append(el("text", {x: w / 2, y: h - 6, "text-anchor": "middle"}, xlabel));
  svg.append(el("text", {x: 12, y: h / 2, transform: `rotate(-90 12 ${h / 2})`, "text-anchor": "middle"}, ylabel));
  return [sx, sy];
}
function figure(parent, kind, caption) {
  const f = el("figure", {"data-plot": kind});
  const svg = el("svg", {width: 420, height: 300, viewBox: "0 0 420 300", role: "img"});
  f.append(svg, el("figcaption", {}, caption));
  parent.append(f);
  return svg;
}
function lines(parent, kind, caption, xs, series, xlabel, ylabel) {
  const svg = figure(parent, kind, caption);
  const all = series.flatMap(s => s.values);
  const [sx, sy] = axes(svg, xs, all, 420, 300, xlabel, ylabel);
  series.forEach((s, i) => {
    svg.append(el("polyline", {fill: "none", stroke: colour(i), "stroke-width": 2, "data-series": s.name,
      points: s.values.map((v, j) => `${sx(xs[j])},${sy(v)}`).join(" ")}));
    svg.append(el("text", {x: 300, y: 20 + 14 * i, fill: colour(i)}, s.name));
  });
}
function scatter(parent, kind, caption, map, key) {
  const svg = figure(parent, kind, caption);
  const [sx, sy] = axes(svg, map.x, map.y, 420, 300, "PC 1", "PC 2");
  map.x.forEach((x, i) => svg.append(el("circle", {cx: sx(x), cy: sy(map.y[i]), r: 3,
    fill: map[key][i] === 0 && key === "perturbation" ? "#bbb" : colour(map[key][i]), "fill-opacity": 0.8})));
}

const m = data.metrics, body = document.getElementById("report");
// Metric table: trained, untrained and random-embedding baselines.
const evals = m.evaluations || {};
// Sizes of what was scored, not scores.
const COUNTS = new Set(["queries", "groups", "candidates", "labels", "batches", "classes", "train_rows"]);
const table = el("table", {id: "metrics"});
table.append(el("tr", {}));
for (const h of ["evaluation", "metric", "trained", "untrained", "random embeddings"]) table.rows[0].append(el("th", {}, h));
for (const [name, r] of Object.entries(evals))
  for (const [k, v] of Object.entries(r)) {
    if (typeof v !== "number" || COUNTS.has(k)) continue;
    const tr = el("tr", {"data-evaluation": name, "data-metric": k});
    const pick = w => (r[w] && typeof r[w][k] === "number") ? fmt(r[w][k]) : "";
    for (const c of [name, k, fmt(v), pick("untrained"), pick("random_embeddings")]) tr.append(el("td", {}, c));
    table.append(tr);
  }
body.append(el("h2", {}, "Metrics"), table);

const t = m.train || {};
body.append(el("h2", {}, "Training"));
const trainPlots = el("div", {class: "plots"});
body.append(trainPlots);
if ((t.loss || []).length) {
  const series = [{name: "train loss", values: t.loss}];
  if ((t.val_loss || []).length === t.loss.length) series.push({name: "validation loss", values: t.val_loss});
  lines(trainPlots, "loss", "Loss per epoch", t.loss.map((_, i) => i + 1), series, "epoch", "loss");
}
if ((t.step_loss || []).length > 1)
  lines(trainPlots, "step-loss", "Loss per optimiser step", t.step_loss.map((_, i) => i + 1),
        [{name: "step loss", values: t.step_loss}], "step", "loss");

for (const [name, p] of Object.entries(data.plots || {})) {
  body.append(el("h2", {}, `Evaluation: ${name}`));
  const box = el("div", {class: "plots"});
  body.append(box);
  if (p.map2d) {
    scatter(box, "map-perturbation", "Embeddings (first two principal components) by perturbation; controls grey", p.map2d, "perturbation");
    scatter(box, "map-batch", "The same embeddings by batch (plate)", p.map2d, "batch");
  }
  if (p.recall_curve)
    lines(box, "recall-curve", "Recall@k: image to candidate, and candidate to image", p.recall_curve.k,
          [{name: "forward", values: p.recall_curve.forward}, {name: "reverse", values: p.recall_curve.reverse}], "k", "recall");
}
document.body.setAttribute("data-rendered", "true");
)js";

} // namespace

std::string renderReport(const std::string &title, const nlohmann::json &metrics,
                         const nlohmann::json &plots) {
  nlohmann::json data = {{"metrics", metrics}, {"plots", plots}};
  const nlohmann::json &plan = metrics.value("plan", nlohmann::json::object());
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                     escapeHtml(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<h1>" +
                     escapeHtml(title) + "</h1>\n<p class=\"meta\">" +
                     escapeHtml(plan.value("source", std::string())) + " &middot; compiler " +
                     escapeHtml(plan.value("compiler_build_id", std::string())) + "</p>\n" +
                     "<div id=\"report\"></div>\n<script type=\"application/json\" id=\"report-data\">" +
                     scriptSafe(data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) +
                     "</script>\n<script>" + kScript + "</script>\n</body>\n</html>\n";
  return html;
}

} // namespace exprt
