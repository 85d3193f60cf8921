// glassnet dashboard: the runs page (#/) and a run page (#/run/NAME).
// Data comes from /api/...; a run page listens to /api/runs/NAME/events (SSE)
// and fetches again when the store grows. Charts are uPlot (vendored).
"use strict";
const $ = (sel, el = document) => el.querySelector(sel);
const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v; else if (k.startsWith("on")) el[k] = v;
    else el.setAttribute(k, v);
  }
  for (const kid of kids) el.append(kid instanceof Node ? kid : String(kid));
  return el;
};
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
let source = null, charts = [], state = {log: false, smooth: 0.6, tensor: null};

function showError(text) {
  const box = $("#error");
  box.hidden = !text; box.textContent = text || "";
}
async function api(path) {
  const r = await fetch(path);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
function fmt(t) { return t ? new Date(t * 1000).toLocaleString() : ""; }
function num(v) { return typeof v === "number" ? v.toPrecision(4) : ""; }

function clearPage() {
  if (source) { source.close(); source = null; }
  charts.forEach(c => c.destroy()); charts = [];
  $("#main").textContent = ""; showError("");
}

function lineChart(el, title, x, series, opts = {}) {
  // series: [{label, values, color, dash}]; el gets data-points = x.length.
  el.textContent = "";
  el.dataset.points = x.length;
  const width = Math.max(300, el.clientWidth || 440);
  const plot = new uPlot({
    title, width, height: 220,
    scales: {x: {time: false}, y: {distr: opts.log ? 3 : 1}},
    axes: [{label: opts.xlabel || ""}, {}],
    series: [{}, ...series.map((s, i) => ({
      label: s.label, stroke: s.color || COLORS[i % COLORS.length], width: 1.5,
      dash: s.dash, points: {show: x.length < 60}}))],
  }, [x, ...series.map(s => s.values.map(v => (opts.log && !(v > 0)) ? null : v))], el);
  charts.push(plot);
  return plot;
}

function smooth(values, a) {
  let m = null;
  return values.map(v => v == null ? null : (m = m == null ? v : a * m + (1 - a) * v));
}

// ---------------------------------------------------------------- runs page
async function runsPage() {
  clearPage();
  $("#crumb").textContent = "";
  const main = $("#main");
  let data;
  try { data = await api("/api/runs"); } catch (e) { showError(e.message); return; }
  if (!data.runs.length) { main.append(h("p", {}, "No runs in this folder yet.")); return; }
  const table = h("table", {class: "runs", id: "runs"},
    h("tr", {}, h("th", {}, "compare"), h("th", {}, "run"), h("th", {}, "status"),
      h("th", {}, "epochs"), h("th", {}, "final metrics"), h("th", {}, "started"),
      h("th", {}, "finished")));
  for (const r of data.runs) {
    const box = h("input", {type: "checkbox", value: r.name, onchange: compare});
    const metrics = Object.entries(r.metrics || {}).map(([k, v]) => `${k} ${num(v)}`)
      .join("  ");
    table.append(h("tr", {},
      h("td", {}, box), h("td", {}, h("a", {href: `#/run/${r.name}`}, r.name)),
      h("td", {}, r.error ? h("span", {class: "status status-crashed"}, "unreadable")
        : h("span", {class: `status status-${r.status}`}, r.status)),
      h("td", {}, r.epochs ?? ""), h("td", {}, r.error || metrics),
      h("td", {}, fmt(r.started)), h("td", {}, fmt(r.finished))));
  }
  const pick = h("select", {id: "compare-metric", onchange: compare});
  const names = new Set();
  data.runs.forEach(r => Object.keys(r.metrics || {}).forEach(k => names.add(k)));
  [...names].forEach(n => pick.append(h("option", {value: n}, n)));
  main.append(table, h("div", {class: "controls"}, "compare on: ", pick),
              h("div", {class: "panel", id: "compare"}));
  async function compare() {
    const chosen = [...table.querySelectorAll("input:checked")].map(b => b.value);
    const key = pick.value, el = $("#compare");
    if (!chosen.length) { el.textContent = "tick runs to compare them"; return; }
    const runs = await Promise.all(chosen.map(n => api(`/api/runs/${n}`)));
    const n = Math.max(...runs.map(r => r.epochs.length));
    const x = [...Array(n).keys()].map(i => i + 1);
    lineChart(el, key, x, runs.map(r => ({label: r.name,
      values: x.map((_, i) => r.epochs[i] ? r.epochs[i].metrics[key] ?? null : null)})),
      {xlabel: "epoch"});
  }
  compare();
}

// ----------------------------------------------------------------- run page
function panel(id, title, ...controls) {
  return h("div", {class: "panel"}, h("h3", {}, title), ...controls,
           h("div", {id}));
}

async function runPage(name) {
  clearPage();
  $("#crumb").textContent = " / " + name;
  const main = $("#main");
  const logBox = h("input", {type: "checkbox", id: "log-scale",
    onchange: () => { state.log = logBox.checked; refresh(); }});
  const slider = h("input", {type: "range", min: 0, max: 0.99, step: 0.01,
    value: state.smooth, id: "smoothing",
    onchange: () => { state.smooth = +slider.value; refresh(); }});
  const tensorPick = h("select", {id: "tensor",
    onchange: () => { state.tensor = tensorPick.value; refresh(); }});
  const samplePick = h("select", {id: "sample",
    onchange: () => { state.sample = +samplePick.value; refresh(); }});
  main.append(h("p", {id: "run-status"}), h("div", {class: "grid"},
    panel("chart-loss", "loss", h("div", {class: "controls"},
      h("label", {}, logBox, " log scale "), " smoothing ", slider)),
    panel("chart-metrics", "metrics per epoch"),
    panel("chart-lr", "learning rate"),
    panel("chart-ratio", "update-to-weight ratio (log scale)"),
    panel("chart-dist", "distribution over time",
      h("div", {class: "controls"}, tensorPick)),
    panel("chart-hist", "histogram, latest"),
    panel("network", "network (latest snapshot)"),
    panel("confusion", "confusion matrix (validation)"),
    panel("regions", "decision regions (2-D inputs, latest snapshot)"),
    panel("first-layer", "first layer's weights as images"),
    panel("trace", "one sample through the network (latest snapshot)",
      h("div", {class: "controls"}, "sample ", samplePick))));
  async function refresh() {
    let run, stats, net, cm, regions, tr;
    try {
      [run, stats, net, cm, regions, tr] = await Promise.all([api(`/api/runs/${name}`),
        api(`/api/runs/${name}/stats`), api(`/api/runs/${name}/network`),
        api(`/api/runs/${name}/confusion`), api(`/api/runs/${name}/regions`),
        api(`/api/runs/${name}/trace?sample=${state.sample || 0}`)]);
    } catch (e) { showError(e.message); return; }
    showError("");
    charts.forEach(c => c.destroy()); charts = [];
    draw(run, stats, net, cm, tensorPick);
    decisionRegions($("#regions"), regions);
    firstLayer($("#first-layer"), net);
    traceView($("#trace"), tr, samplePick);
  }
  await refresh();
  source = new EventSource(`/api/runs/${name}/events`);
  let first = true;
  source.addEventListener("update", () => { if (!first) refresh(); first = false; });
  source.addEventListener("failed", e => showError(JSON.parse(e.data)));
}

function draw(run, stats, net, cm, tensorPick) {
  $("#run-status").innerHTML = "";
  $("#run-status").append(h("span", {class: `status status-${run.status}`}, run.status),
    ` ${run.epochs.length} epochs, ${run.steps.step.length * run.steps.stride} logged steps`,
    run.error ? `  (${run.error})` : "", h("br"), h("code", {}, run.model || ""));
  // loss: batches (smoothed) and epochs (train, val) on the step axis
  const steps = run.steps.step, epochSteps = run.epochs.map(e => e.step);
  const m = k => run.epochs.map(e => e.metrics ? e.metrics[k] ?? null : null);
  if (steps.length) {
    lineChart($("#chart-loss"), "", steps, [
      {label: "batch loss (smoothed)", values: smooth(run.steps.loss, state.smooth)}],
      {log: state.log, xlabel: "step"});
  }
  const keys = run.epochs.length ? Object.keys(run.epochs[run.epochs.length - 1].metrics)
    : [];
  const x = run.epochs.map(e => e.epoch + 1);
  lineChart($("#chart-metrics"), "", x, keys.map((k, i) => ({label: k, values: m(k),
    color: COLORS[Math.floor(i / 1) % COLORS.length],
    dash: k.startsWith("val_") ? [5, 3] : undefined})),
    {log: state.log, xlabel: "epoch"});
  lineChart($("#chart-lr"), "", x, [{label: "lr", values: run.epochs.map(e => e.lr)}],
            {xlabel: "epoch"});
  // update ratios, one line per weight tensor
  const weights = stats.series.filter(s => s.kind === "weight");
  if (weights.length) {
    lineChart($("#chart-ratio"), "", weights[0].step, weights.map(s => ({
      label: s.tensor, values: s.ratio})), {log: true, xlabel: "step"});
  }
  // distributions over time: min, mean +- std, max of the chosen tensor
  if (!tensorPick.options.length) {
    stats.series.forEach(s => tensorPick.append(
      h("option", {value: `${s.kind}:${s.tensor}`}, `${s.kind} ${s.tensor}`)));
  }
  const chosen = stats.series.find(s => `${s.kind}:${s.tensor}` === tensorPick.value)
    || stats.series[0];
  if (chosen) {
    const band = (sgn) => chosen.mean.map((v, i) => v == null ? null
      : v + sgn * chosen.std[i]);
    lineChart($("#chart-dist"), "", chosen.step, [
      {label: "max", values: chosen.max, color: "#bbb"},
      {label: "mean+std", values: band(1), color: "#68a"},
      {label: "mean", values: chosen.mean, color: "#135"},
      {label: "mean-std", values: band(-1), color: "#68a"},
      {label: "min", values: chosen.min, color: "#bbb"}], {xlabel: "step"});
    histogram($("#chart-hist"), chosen);
  }
  network($("#network"), net);
  confusion($("#confusion"), cm);
}

function histogram(el, s) {
  const i = s.hist.length - 1, counts = s.hist[i] || [], lo = s.min[i], hi = s.max[i];
  el.textContent = "";
  const c = h("canvas", {width: 440, height: 200, id: "histogram"});
  el.append(h("div", {class: "note"}, `${s.kind} ${s.tensor} at step ${s.step[i]}: ` +
    `${num(lo)} .. ${num(hi)}`), c);
  const g = c.getContext("2d"), top = Math.max(1, ...counts), w = 440 / counts.length;
  g.fillStyle = "#1f77b4";
  counts.forEach((n, j) => g.fillRect(j * w + 1, 200 - 190 * n / top, w - 2,
                                      190 * n / top));
  el.dataset.bars = counts.length;
}

function network(el, net) {
  el.textContent = "";
  if (!net.layers) { el.append(h("div", {class: "note"}, net.note || "no snapshot yet"));
                     return; }
  const sizes = [net.layers[0].weight.length, ...net.layers.map(l => l.weight[0].length)];
  const W = 440, H = 300, ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H); svg.id = "network-svg";
  const pos = (layer, i) => [30 + layer * (W - 60) / (sizes.length - 1),
                             H / 2 + (i - (sizes[layer] - 1) / 2) * Math.min(
                               18, (H - 20) / sizes[layer])];
  let big = 1e-12;
  net.layers.forEach(l => l.weight.forEach(r => r.forEach(w => big = Math.max(big,
    Math.abs(w)))));
  let lines = 0;
  net.layers.forEach((l, k) => l.weight.forEach((row, i) => row.forEach((w, j) => {
    const [x1, y1] = pos(k, i), [x2, y2] = pos(k + 1, j);
    const line = document.createElementNS(ns, "line");
    Object.entries({x1, y1, x2, y2, stroke: w >= 0 ? "#c33" : "#33c",
      "stroke-width": (3 * Math.abs(w) / big).toFixed(2),
      "stroke-opacity": 0.6}).forEach(([a, v]) => line.setAttribute(a, v));
    svg.append(line); lines++;
  })));
  sizes.forEach((n, k) => { for (let i = 0; i < n; i++) {
    const [cx, cy] = pos(k, i), dot = document.createElementNS(ns, "circle");
    Object.entries({cx, cy, r: 3, fill: "#222"}).forEach(([a, v]) =>
      dot.setAttribute(a, v));
    svg.append(dot);
  }});
  svg.dataset.lines = lines;
  el.append(h("div", {class: "note"}, `epoch ${net.epoch + 1}; red +, blue -, ` +
    "width ∝ |w|"), svg);
}

function confusion(el, cm) {
  el.textContent = "";
  if (!cm.matrix) { el.append(h("div", {class: "note"}, "none logged (needs " +
                                  "validation data)")); return; }
  const top = Math.max(1, ...cm.matrix.flat());
  const t = h("table", {class: "cm", id: "cm"});
  cm.matrix.forEach(row => t.append(h("tr", {}, ...row.map(n => {
    const td = h("td", {}, n);
    td.style.background = `rgba(31,119,180,${(n / top).toFixed(2)})`;
    return td;
  }))));
  el.append(h("div", {class: "note"}, `epoch ${cm.epoch + 1}; rows: true class, ` +
              "columns: predicted"), t);
}

function decisionRegions(el, r) {
  // Playground's picture: each grid cell coloured by the predicted class,
  // paler where the network is less sure; the logged points on top.
  el.textContent = "";
  if (!r.classes) { el.closest(".panel").hidden = true; return; }
  el.closest(".panel").hidden = false;
  const n = r.size, S = n * Math.max(1, Math.floor(300 / n));
  const c = h("canvas", {width: S, height: S, id: "regions-canvas"});
  const g = c.getContext("2d"), cell = S / n;
  r.classes.forEach((k, i) => {
    g.globalAlpha = 0.15 + 0.5 * (r.confidence[i] - 0.5) / 0.5;
    g.fillStyle = COLORS[k % COLORS.length];
    g.fillRect((i % n) * cell, Math.floor(i / n) * cell, cell, cell);
  });
  g.globalAlpha = 1;
  const sx = x => (x - r.lo[0]) / (r.hi[0] - r.lo[0]) * S;
  const sy = y => (r.hi[1] - y) / (r.hi[1] - r.lo[1]) * S;
  r.points.forEach(([x, y], i) => {
    g.beginPath(); g.arc(sx(x), sy(y), 3, 0, 7);
    g.fillStyle = COLORS[r.labels[i] % COLORS.length]; g.fill();
    g.strokeStyle = "#fff"; g.stroke();
  });
  el.append(h("div", {class: "note"}, `epoch ${r.epoch + 1}; dots: validation ` +
    "samples in their true class's colour"), c);
}

function firstLayer(el, net) {
  // Each unit's incoming weights as a square image (red +, blue -), when the
  // inputs are square images flattened to rows (8x8 digits: 64 inputs).
  el.textContent = "";
  const w = net.layers && net.layers[0].weight, side = w && Math.sqrt(w.length);
  if (!w || side < 3 || side !== Math.floor(side)) {
    el.closest(".panel").hidden = true; return;
  }
  el.closest(".panel").hidden = false;
  const units = w[0].length, px = 6, big = Math.max(1e-12, ...w.flat().map(Math.abs));
  const wrap = h("div", {id: "first-layer-images"});
  for (let u = 0; u < units; u++) {
    const c = h("canvas", {width: side * px, height: side * px,
                           title: `unit ${u}`, style: "margin: 2px"});
    const g = c.getContext("2d");
    for (let i = 0; i < w.length; i++) {
      const v = w[i][u] / big, a = Math.round(255 * (1 - Math.abs(v)));
      g.fillStyle = v >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
      g.fillRect((i % side) * px, Math.floor(i / side) * px, px, px);
    }
    wrap.append(c);
  }
  wrap.dataset.units = units;
  el.append(h("div", {class: "note"}, `${units} units, ${side}x${side} inputs each; ` +
    "red +, blue -"), wrap);
}

function strip(values, cols) {
  // Values as a heat strip (rows of `cols` cells): red +, blue -, white 0.
  const n = values.length, rows = Math.ceil(n / cols), px = Math.max(3,
    Math.min(14, Math.floor(400 / cols)));
  const c = h("canvas", {width: cols * px, height: rows * px});
  const g = c.getContext("2d");
  const big = Math.max(1e-12, ...values.map(v => Math.abs(v || 0)));
  values.forEach((v, i) => {
    const t = (v || 0) / big, a = Math.round(255 * (1 - Math.abs(t)));
    g.fillStyle = t >= 0 ? `rgb(255,${a},${a})` : `rgb(${a},${a},255)`;
    g.fillRect((i % cols) * px, Math.floor(i / cols) * px, px, px);
  });
  return c;
}

function traceView(el, tr, samplePick) {
  el.textContent = "";
  if (!tr.layers) { el.closest(".panel").hidden = !tr.note;
                    el.append(h("div", {class: "note"}, tr.note || "")); return; }
  el.closest(".panel").hidden = false;
  if (samplePick.options.length !== tr.count) {
    samplePick.textContent = "";
    for (let i = 0; i < tr.count; i++) samplePick.append(h("option", {value: i}, i));
  }
  samplePick.value = tr.sample;
  const wrap = h("div", {id: "trace-layers"});
  wrap.append(h("div", {class: "note"}, `epoch ${tr.epoch + 1}; target ` +
    `${JSON.stringify(tr.target)}, loss ${num(tr.loss)}; each layer's output ` +
    "(top) and d(loss)/d(output) (bottom): red +, blue -"));
  tr.layers.forEach(l => {
    const cols = l.shape.length ? l.shape[l.shape.length - 1] : 1;
    const row = h("div", {class: "trace-layer"}, h("div", {class: "note"},
      `${l.name} ${l.kind} ${JSON.stringify(l.shape)}`), strip(l.output, cols));
    if (l.grad) row.append(h("br"), strip(l.grad, cols));
    if (l.gates) {  // side by side: time down, units across
      const gates = h("div", {class: "gates"});
      for (const [gate, rows] of Object.entries(l.gates)) {
        gates.append(h("div", {}, h("div", {class: "note"},
          gate === "cell" ? "cell state" : `${gate} gate`),
          strip(rows.flat(), rows[0].length)));
      }
      row.append(h("div", {class: "note"}, "gates over the sequence (time down, " +
                   "units across):"), gates);
    }
    wrap.append(row);
  });
  wrap.dataset.layers = tr.layers.length;
  el.append(wrap);
}

function route() {
  const m = location.hash.match(/^#\/run\/([A-Za-z0-9][A-Za-z0-9._-]*)$/);
  (m ? runPage(m[1]) : runsPage()).catch(e => showError(e.message));
}
window.addEventListener("hashchange", route);
route();
