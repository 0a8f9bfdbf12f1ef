// wattbit dashboard: reads the REST API with the session cookie and follows /api/v1/events (server-sent events).
// No framework, no build step; every value is shown with its unit. Writes carry X-Wattbit-CSRF: 1.
"use strict";

const API = "/api/v1";
const MAX_POINTS = 192;
const COLORS = ["#0b6e4f", "#3b6fb6", "#d98e04", "#9b3fb5", "#c8323c", "#2a9db0", "#6b7d2a", "#b5651d"];
const state = { me: null, sites: [], units: {}, colors: {}, charts: {}, queueTick: 0 };

// ------------------------------------------------------------------------------------------------ helpers
function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function fmt(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  return Number(v).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function when(s) {
  if (!s) return "—";
  return new Date(s * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}
function evidenceText(ev) {
  const show = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : fmt(v, 2)) : typeof v === "object" ? JSON.stringify(v) : String(v));
  return Object.entries(ev || {}).map(([k, v]) => `${k}=${show(v)}`).join(", ");
}
function $(id) { return document.getElementById(id); }
function table(el, cols, rows, empty) {
  if (!el) return;
  if (!rows.length) { el.innerHTML = `<p class="empty">${esc(empty)}</p>`; return; }
  const head = cols.map((c) => `<th class="${c.num ? "num" : ""}">${esc(c.label)}</th>`).join("");
  const body = rows.map((r) => "<tr>" + cols.map((c) => {
    const v = c.html ? c.html(r) : esc(c.get ? c.get(r) : r[c.key]);
    return `<td class="${c.cls || ""}${c.num ? " num" : ""}">${v}</td>`;
  }).join("") + "</tr>").join("");
  el.innerHTML = `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}
async function api(path, opts = {}) {
  const init = { credentials: "same-origin", ...opts, headers: { ...(opts.headers || {}) } };
  if (init.method && init.method !== "GET") init.headers["X-Wattbit-CSRF"] = "1";
  if (init.json !== undefined) {
    init.body = JSON.stringify(init.json);
    init.headers["Content-Type"] = "application/json";
    delete init.json;
  }
  const r = await fetch(API + path, init);
  if (r.status === 401 && document.body.dataset.page !== "login") {
    location.href = "/login?next=" + encodeURIComponent(location.pathname);
    throw new Error("not logged in");
  }
  const body = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    const e = new Error((body && body.message) || r.statusText);
    e.body = body; e.status = r.status;
    throw e;
  }
  return body;
}
function errorText(e) {
  const b = e.body || {};
  const parts = [b.message || e.message];
  if (b.problems) for (const p of b.problems) parts.push(`· ${p.field || "?"}: ${p.message} (got ${JSON.stringify(p.value)})`);
  else if (b.expected) parts.push(`expected: ${b.expected}`);
  return parts.join("\n");
}
function may(role) {
  const order = ["viewer", "operator", "admin"];
  return state.me && order.indexOf(state.me.role) >= order.indexOf(role);
}
function siteName(s) {
  const l = s.label || { en: s.id, ja: "" };
  return `${esc(l.en)}${l.ja ? ` <span class="ja">${esc(l.ja)}</span>` : ""}`;
}
function areaName(a) { return a ? `${esc(a.en)} area${a.ja ? ` <span class="ja">${esc(a.ja)}エリア</span>` : ""}` : ""; }

// ------------------------------------------------------------------------------------------------ events
function connect(handlers) {
  const live = $("live");
  const es = new EventSource(API + "/events");
  es.onopen = () => { live.className = "live on"; live.textContent = "● live"; };
  es.onerror = () => { live.className = "live off"; live.textContent = "● reconnecting"; };
  for (const [kind, fn] of Object.entries(handlers)) {
    es.addEventListener(kind, (ev) => { try { fn(JSON.parse(ev.data)); } catch (err) { console.error(err); } });
  }
  return es;
}
let clockShown = 0;
function throttledClock(ev) { const now = Date.now(); if (now - clockShown > 1000) { clockShown = now; setClock(ev.time_utc); } }
function setClock(t) {
  if (t) $("clock").textContent = "data time " + t.replace("T", " ").slice(0, 16) + " UTC";
}

// ------------------------------------------------------------------------------------------------ fleet page
const CHARTS = [
  { id: "chart-power", title: "Facility power", unit: "MW", get: (v) => v.facility_mw },
  { id: "chart-generation", title: "On-site generation (PV + wind)", unit: "MW", get: (v) => (v.pv_mw ?? 0) + (v.wind_mw ?? 0) },
  { id: "chart-carbon", title: "Grid carbon intensity", unit: "g CO₂-eq/kWh", get: (v) => v.carbon_g_per_kwh },
  { id: "chart-price", title: "JEPX day-ahead price", unit: "JPY/kWh", get: (v) => v.price_jpy_per_kwh },
  { id: "chart-curtailment", title: "Renewables curtailed in the area", unit: "MW", get: (v) => v.curtailment_mw },
  { id: "chart-pue", title: "PUE", unit: "facility / IT", get: (v) => v.pue },
];
const LAYOUT = { margin: { l: 55, r: 10, t: 30, b: 35 }, legend: { orientation: "h", y: -0.2 }, font: { size: 11 },
  paper_bgcolor: "#fff", plot_bgcolor: "#fff" };
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

async function drawMap(sites) {
  const outline = await fetch("/static/japan-50m.json").then((r) => r.json());
  const xs = [], ys = [];
  for (const poly of outline.polygons) { for (const p of poly) { xs.push(p[0]); ys.push(p[1]); } xs.push(null); ys.push(null); }
  const traces = [{ x: xs, y: ys, mode: "lines", fill: "toself", fillcolor: "#e7ecef", line: { color: "#9fb0bf", width: 0.7 },
    hoverinfo: "skip", showlegend: false }];
  const colour = { ok: "#2e9d5b", warning: "#d98e04", critical: "#c8323c" };
  traces.push({
    x: sites.map((s) => s.longitude_deg), y: sites.map((s) => s.latitude_deg), mode: "markers+text",
    text: sites.map((s) => `${s.label.en} ${s.label.ja}`), textposition: "middle left",
    marker: { size: 16, color: sites.map((s) => colour[s.state] || "#888"), line: { color: "#fff", width: 2 } },
    customdata: sites.map((s) => [s.state, s.area.en, s.area.ja, s.latest ? s.latest.facility_mw : null]),
    hovertemplate: "%{text}<br>%{customdata[1]} area (%{customdata[2]})<br>state %{customdata[0]}" +
      "<br>facility %{customdata[3]:.2f} MW<extra></extra>", showlegend: false,
  });
  const layout = { margin: { l: 0, r: 0, t: 0, b: 0 }, xaxis: { range: [128.5, 146.5], visible: false },
    yaxis: { range: [30.5, 46], visible: false, scaleanchor: "x", scaleratio: 1.24 }, paper_bgcolor: "#fff",
    plot_bgcolor: "#f4f8fb", dragmode: "pan" };
  Plotly.react("map", traces, layout, { ...CONFIG, scrollZoom: true });
}

function siteCard(s) {
  const v = s.latest || {};
  const gpus = v.gpus || {};
  const row = (label, val, unit, d = 1) => `<dt>${esc(label)}</dt><dd><span class="num">${fmt(val, d)}</span><span class="unit">${esc(unit)}</span></dd>`;
  return `<article class="site ${esc(s.state)}" data-site="${esc(s.id)}">
    <h3>${siteName(s)} <span class="badge ${esc(s.state)}">${esc(s.state)}</span></h3>
    <div class="sub">${areaName(s.area)} · ${esc(s.gpus.toLocaleString("en-US"))} × ${esc(s.gpu_model)}${s.active_alerts ? ` · ${s.active_alerts} active alert(s)` : ""}</div>
    <div><span class="big" data-field="facility_mw">${fmt(v.facility_mw, 2)}</span><span class="unit">MW facility</span>
      &nbsp; <span class="big">${fmt(v.pue, 3)}</span><span class="unit">PUE</span></div>
    <dl>${row("IT power", v.it_mw, "MW", 2)}${row("grid carbon intensity", v.carbon_g_per_kwh, "g CO₂-eq/kWh", 0)}
      ${row("JEPX price", v.price_jpy_per_kwh, "JPY/kWh", 2)}${row("curtailed in the area", v.curtailment_mw, "MW", 1)}
      ${row("on-site PV", v.pv_mw, "MW", 2)}${row("on-site wind", v.wind_mw, "MW", 2)}${row("grid import", v.grid_mw, "MW", 2)}
      ${row("battery state of charge", v.soc_pct, "%", 0)}
      <dt>GPUs training / inference / idle / out</dt><dd class="num">${gpus.training ?? "—"} / ${gpus.inference ?? "—"} / ${gpus.idle ?? "—"} / ${gpus.out ?? "—"}</dd></dl>
  </article>`;
}

function renderSites() {
  $("site-cards").innerHTML = state.sites.map(siteCard).join("");
}

async function initCharts() {
  const hist = {};
  await Promise.all(state.sites.map(async (s) => { hist[s.id] = (await api(`/sites/${encodeURIComponent(s.id)}/telemetry`)).series; }));
  for (const c of CHARTS) {
    const traces = state.sites.map((s) => {
      const h = hist[s.id];
      const rows = h.time_utc.map((_, i) => Object.fromEntries(Object.keys(h).map((k) => [k, h[k][i]])));
      return { x: h.time_utc, y: rows.map(c.get), name: `${s.label.en} ${s.label.ja}`, mode: "lines",
        line: { color: state.colors[s.id], width: 2 }, hovertemplate: `%{y:.2f} ${c.unit}<extra>${s.label.en}</extra>` };
    });
    Plotly.react(c.id, traces, { ...LAYOUT, title: { text: `${c.title} [${c.unit}]`, font: { size: 13 } },
      yaxis: { title: { text: c.unit }, rangemode: c.id === "chart-pue" ? "normal" : "tozero" } }, CONFIG);
    $(c.id).dataset.points = String(traces[0] ? traces[0].x.length : 0);
  }
}

// Telemetry arrives every step (twice a second at the demo's speed): points are buffered and drawn once a second.
const pending = [];
function onTelemetry(ev) { pending.push(ev); }
function flushTelemetry() {
  if (!pending.length) return;
  const evs = pending.splice(0, pending.length);
  const last = evs[evs.length - 1];
  setClock(last.time_utc);
  for (const s of state.sites) if (last.sites[s.id]) s.latest = last.sites[s.id];
  renderSites();
  const idx = state.sites.map((_, i) => i);
  for (const c of CHARTS) {
    const el = $(c.id);
    if (!el || !el.data) continue;
    const x = state.sites.map(() => evs.map((e) => e.time_utc));
    const y = state.sites.map((s) => evs.map((e) => c.get(e.sites[s.id] || {})));
    Plotly.extendTraces(el, { x, y }, idx, MAX_POINTS);
    el.dataset.points = String(el.data[0].x.length);
    el.dataset.updated = last.time_utc;
  }
  if (++state.queueTick % 5 === 0) loadQueue();
}

async function loadQueue() {
  const q = await api("/queue");
  const c = q.counts || {};
  $("queue-counts").innerHTML = [["running jobs", c.running], ["GPUs busy", c.gpus_running], ["queued jobs", c.queued],
    ["GPUs asked for in the queue", c.gpus_queued], ["jobs still to arrive", c.waiting_to_arrive]]
    .map(([l, v]) => `<div><span class="big">${v === undefined ? "—" : esc(v.toLocaleString("en-US"))}</span><span class="l">${esc(l)}</span></div>`).join("");
  const cols = [{ label: "job", key: "job_id", num: true }, { label: "kind", key: "kind" }, { label: "GPUs", key: "gpus", num: true },
    { label: "site", key: "site" }, { label: "remaining [h]", get: (r) => fmt(r.remaining_h, 1), num: true },
    { label: "deadline (UTC)", get: (r) => r.deadline_utc || "—" }];
  table($("running-jobs"), cols, (q.running || []).slice(0, 15), q.available === false ? "the queue comes from the scheduler (not connected)" : "no job is running");
  table($("queued-jobs"), cols, (q.queued || []).slice(0, 15), "the queue is empty");
}

async function fleetPage() {
  const data = await api("/sites");
  state.sites = data.sites;
  state.units = data.units;
  state.sites.forEach((s, i) => { state.colors[s.id] = COLORS[i % COLORS.length]; });
  $("fleet-source").textContent = `live source: ${data.source}` + (data.source === "twin" ? " (the embedded twin of the japan-2022 demo, 1 step = 15 min)" : "");
  if (state.sites[0] && state.sites[0].time_utc) setClock(state.sites[0].time_utc);
  renderSites();
  await drawMap(state.sites);
  await initCharts();
  await loadQueue();
  setInterval(flushTelemetry, 1000);
  connect({
    telemetry: onTelemetry,
    alerts: async () => { const d = await api("/sites"); for (const s of state.sites) { const n = d.sites.find((x) => x.id === s.id); if (n) { s.state = n.state; s.active_alerts = n.active_alerts; } } renderSites(); drawMap(state.sites); },
  });
}

// ------------------------------------------------------------------------------------------------ operations page
async function loadMode() {
  const m = await api("/ops/mode");
  $("mode").textContent = m.mode; $("mode").className = "badge " + m.mode;
  $("mode-meta").textContent = m.updated_by ? `set by ${m.updated_by} at ${when(m.updated_s)}` : "default (nobody changed it yet)";
  $("mode-select").value = m.mode;
}

async function decide(id, verb) {
  try {
    await api(`/ops/actions/${encodeURIComponent(id)}/${verb}`, { method: "POST", json: {} });
  } catch (e) { alert(errorText(e)); }
  await Promise.all([loadActions(), loadAudit()]);
}

async function loadActions() {
  const rows = await api("/ops/actions?limit=100");
  const waiting = rows.filter((a) => a.state === "pending_approval").length;
  $("actions-count").textContent = `${waiting} waiting for a person, ${rows.length} shown`;
  $("actions-note").textContent = may("operator") ? "" : "Your token is a viewer: approving and rejecting needs an operator token.";
  table($("actions"), [
    { label: "proposed", get: (a) => when(a.proposed_s) }, { label: "action", html: (a) => `<b>${esc(a.kind)}</b> ${esc(a.target)}` },
    { label: "site", key: "site" }, { label: "why", key: "reason", cls: "reason" },
    { label: "evidence", cls: "evidence", get: (a) => evidenceText(a.evidence) },
    { label: "state", html: (a) => `<span class="badge ${esc(a.state)}">${esc(a.state.replace("_", " "))}</span>${a.decided_by ? ` by ${esc(a.decided_by)}` : ""}` },
    { label: "", html: (a) => a.state === "pending_approval" ? `<button class="primary" data-approve="${esc(a.id)}" ${may("operator") ? "" : "disabled"}>Approve</button> <button class="danger" data-reject="${esc(a.id)}" ${may("operator") ? "" : "disabled"}>Reject</button>` : "" },
  ], rows, "nothing proposed");
  $("actions").querySelectorAll("[data-approve]").forEach((b) => b.addEventListener("click", () => decide(b.dataset.approve, "approve")));
  $("actions").querySelectorAll("[data-reject]").forEach((b) => b.addEventListener("click", () => decide(b.dataset.reject, "reject")));
}

async function loadAlerts() {
  const rows = await api("/ops/alerts?limit=100");
  $("alerts-count").textContent = `${rows.length} most recent`;
  table($("alerts"), [
    { label: "first seen (data time)", get: (a) => when(a.time_s) }, { label: "severity", html: (a) => `<span class="badge ${esc(a.severity)}">${esc(a.severity)}</span>` },
    { label: "kind", key: "kind" }, { label: "site", key: "site" }, { label: "node", key: "node" }, { label: "GPU", get: (a) => (a.gpu >= 0 ? a.gpu : "—"), num: true },
    { label: "failure probability", get: (a) => (a.probability === null ? "—" : `${fmt(a.probability * 100, 0)} % in ${fmt(a.horizon_h, 0)} h`), num: true },
    { label: "seen", get: (a) => `${a.count}×`, num: true },
    { label: "evidence", cls: "evidence", get: (a) => evidenceText(a.evidence) },
  ], rows, "no alerts");
}

async function loadNodes() {
  const rows = (await api("/nodes")).filter((n) => n.state !== "ok").slice(0, 50);
  table($("nodes"), [{ label: "node", key: "node" }, { label: "site", key: "site" }, { label: "state", html: (n) => `<span class="badge">${esc(n.state)}</span>` },
    { label: "GPUs present", get: (n) => `${n.gpus_present} / ${n.gpus}`, num: true }, { label: "power [kW]", get: (n) => fmt(n.power_kw, 1), num: true },
    { label: "hottest GPU [°C]", get: (n) => fmt(n.gpu_temp_max_c, 0), num: true }], rows, "every node is ok");
}

async function loadAudit() {
  const rows = await api("/ops/audit?limit=100");
  table($("audit"), [{ label: "time", get: (e) => when(e.time_s) }, { label: "who", key: "actor" }, { label: "role", get: (e) => e.role || "(loop)" },
    { label: "what", key: "action" }, { label: "on", key: "target" }, { label: "source", key: "source" },
    { label: "details", cls: "evidence", get: (e) => JSON.stringify(e.detail) }], rows, "nothing yet");
}

async function opsPage() {
  document.querySelectorAll(".admin-only").forEach((el) => { el.hidden = !may("admin"); });
  $("mode-set").addEventListener("click", async () => {
    try { await api("/ops/mode", { method: "PUT", json: { mode: $("mode-select").value } }); } catch (e) { alert(errorText(e)); }
    await Promise.all([loadMode(), loadAudit()]);
  });
  await Promise.all([loadMode(), loadActions(), loadAlerts(), loadNodes(), loadAudit()]);
  connect({ telemetry: throttledClock, action: () => { loadActions(); loadNodes(); }, audit: loadAudit,
    alerts: () => { loadAlerts(); loadNodes(); }, mode: loadMode });
}

// ------------------------------------------------------------------------------------------------ runs page
function runRow(r) {
  const pct = Math.round((r.progress || 0) * 100);
  const links = [r.report_url ? `<a href="${esc(r.report_url)}" target="_blank" rel="noopener">report</a>` : "", `<a href="/api/v1/runs/${esc(r.id)}/files" target="_blank" rel="noopener">files</a>`];
  const acts = [];
  if (may("operator") && ["queued", "starting", "running"].includes(r.state)) acts.push(`<button data-cancel="${esc(r.id)}">Cancel</button>`);
  if (may("operator") && ["failed", "cancelled"].includes(r.state)) acts.push(`<button data-restart="${esc(r.id)}">Start again</button>`);
  return { ...r, pct, links: links.filter(Boolean).join(" · "), acts: acts.join(" ") };
}
function headline(r) {
  const x = r.result || {};
  if (r.kind === "simulate" && x.pue) return `PUE ${fmt(x.pue, 3)} · ${fmt(x.carbon_t, 1)} t CO₂-eq · ${fmt(x.energy_cost / 1e6, 2)} M${x.currency || "JPY"}`;
  if (r.kind === "bench" && x.policies) return Object.entries(x.policies).map(([k, v]) => `${k}: ${fmt(v.carbon_t, 1)} t`).join(", ");
  if (r.kind === "plan" && x.objective !== undefined) return `objective ${fmt(x.objective / 1e9, 2)} G JPY`;
  return r.error ? r.error : r.message || "";
}
const runs = new Map();
function renderRuns() {
  const rows = [...runs.values()].sort((a, b) => b.created_s - a.created_s).slice(0, 100).map(runRow);
  table($("runs"), [{ label: "run", key: "id" }, { label: "kind", key: "kind" }, { label: "scenario", key: "scenario_id" },
    { label: "by", key: "created_by" }, { label: "started", get: (r) => when(r.created_s) },
    { label: "state", html: (r) => `<span class="badge ${esc(r.state)}" data-run-state="${esc(r.id)}">${esc(r.state)}</span>` },
    { label: "progress", html: (r) => `<span class="progress"><i style="width:${r.pct}%"></i></span> <span class="num">${r.pct} %</span>` },
    { label: "result / message", get: headline, cls: "reason" }, { label: "", html: (r) => r.links }, { label: "", html: (r) => r.acts }], rows, "no runs yet");
  $("runs").querySelectorAll("[data-cancel]").forEach((b) => b.addEventListener("click", () => api(`/runs/${b.dataset.cancel}/cancel`, { method: "POST" }).catch((e) => alert(errorText(e)))));
  $("runs").querySelectorAll("[data-restart]").forEach((b) => b.addEventListener("click", () => api(`/runs/${b.dataset.restart}/restart`, { method: "POST" }).catch((e) => alert(errorText(e)))));
}

async function runsPage() {
  document.querySelectorAll(".operator-only").forEach((el) => { el.hidden = !may("operator"); });
  const scenarios = await api("/scenarios");
  $("run-scenario").innerHTML = scenarios.map((s) => `<option value="${esc(s.id)}">${esc(s.name)} (${esc(s.filename)})</option>`).join("");
  const kind = $("run-kind");
  const showKind = () => document.querySelectorAll(".run-form [class^=k-], .run-form [class*=' k-']").forEach((el) => { el.hidden = !el.classList.contains("k-" + kind.value); });
  kind.addEventListener("change", showKind); showKind();
  $("run-start").value = "2022-04-10"; $("run-end").value = "2022-04-11";
  $("run-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = { kind: f.get("kind"), scenario_id: f.get("scenario_id") };
    if (f.get("seed")) body.seed = Number(f.get("seed"));
    if (body.kind === "simulate") body.policy = f.get("policy");
    if (body.kind === "bench") body.policies = String(f.get("policies")).split(",").map((x) => x.trim()).filter(Boolean);
    if (body.kind !== "plan") { if (f.get("start")) body.start = f.get("start"); if (f.get("end")) body.end = f.get("end"); }
    else body.draws = Number(f.get("draws") || 0);
    $("run-error").textContent = "";
    try { const r = await api("/runs", { method: "POST", json: body }); runs.set(r.id, r); renderRuns(); } catch (e) { $("run-error").textContent = errorText(e); }
  });
  for (const r of await api("/runs?limit=100")) runs.set(r.id, r);
  renderRuns();
  connect({ telemetry: throttledClock, run: (r) => { runs.set(r.id, r); renderRuns(); } });
}

// ------------------------------------------------------------------------------------------------ scenarios page
async function loadScenarios() {
  const rows = await api("/scenarios");
  table($("scenarios"), [{ label: "name", key: "name" }, { label: "file", key: "filename" }, { label: "source", key: "source" },
    { label: "sites", html: (s) => (s.summary.sites || []).map((x) => `${siteName(x)} (${areaName(x.area)})`).join("<br>") },
    { label: "period", get: (s) => s.summary.period ? `${s.summary.period.start.slice(0, 10)} → ${s.summary.period.end.slice(0, 10)}, ${s.summary.period.step}` : "" },
    { label: "added", get: (s) => `${when(s.created_s)} by ${s.created_by}` }], rows, "no scenarios");
}
async function scenariosPage() {
  document.querySelectorAll(".operator-only").forEach((el) => { el.hidden = !may("operator"); });
  $("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = $("upload-result");
    try {
      const s = await api("/scenarios", { method: "POST", body: new FormData(ev.target) });
      out.className = ""; out.textContent = `stored ${s.name} as ${s.id}`;
      loadScenarios();
    } catch (e) { out.className = "error"; out.textContent = errorText(e); }
  });
  await loadScenarios();
  connect({ telemetry: throttledClock, scenario: loadScenarios });
}

// ------------------------------------------------------------------------------------------------ login and start
function loginPage() {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/session", { method: "POST", json: { token: $("token").value.trim() } });
      const next = new URLSearchParams(location.search).get("next");
      location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
    } catch (e) { $("login-error").textContent = errorText(e); }
  });
}

async function start() {
  const page = document.body.dataset.page;
  if (page === "login") { loginPage(); return; }
  state.me = await api("/whoami");
  $("who").textContent = `${state.me.name} (${state.me.role})`;
  const out = $("logout");
  out.hidden = false;
  out.addEventListener("click", async () => { await api("/session", { method: "DELETE" }).catch(() => null); location.href = "/login"; });
  const pages = { fleet: fleetPage, ops: opsPage, runs: runsPage, scenarios: scenariosPage };
  await pages[page]();
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", () => { start().catch((e) => console.error(e)); });
