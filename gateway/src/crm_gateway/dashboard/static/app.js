/* The CRM dashboard: a key-signed client of the gateway's public API, one page per hash. */
"use strict";

const KEY_STORAGE = "crm.dashboard.key";
const PAGES = ["overview", "segments", "value", "customer", "recommendations"];
const PAGE_TITLES = {
  overview: "Overview",
  segments: "Segments",
  value: "Value",
  customer: "Customer",
  recommendations: "Recommendations",
};
const PAGE_NEEDS = {
  customer: "The customer page needs a key with customers:read (the admin role). " +
    "Marketing keys see customers through segment member lists and recommendations.",
};
const PLOT_CONFIG = { displaylogo: false, responsive: true };
const COLOURS = ["#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#0b7285", "#5c940d",
  "#e67700", "#364fc7", "#a61e4d", "#087f5b", "#495057"];
const MEMBERS_PAGE = 25;
const KIND_COLOURS = { rfm: "#1f5fbf", tier: "#2b7a3b", churn: "#c2410c", cluster: "#862e9c", custom: "#c2255c" };
const TREND_SEGMENTS = 12;
const KIND_NAMES = { rfm: "RFM", tier: "value tier", churn: "churn band", cluster: "cluster", custom: "custom" };
const TIER_ORDER = { high: 0, medium: 1, low: 2 };

const state = { key: null, session: null, renderToken: 0 };

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

/* ---------- small DOM helpers ---------- */

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const numberFormat = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const decimalFormat = new Intl.NumberFormat("en", { maximumFractionDigits: 2 });
const fmt = (value) => (value === null || value === undefined ? "–" : numberFormat.format(value));
const fmt2 = (value) => (value === null || value === undefined ? "–" : decimalFormat.format(value));
const pct = (value) => (value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`);

function when(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  return date.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

function ago(iso) {
  if (!iso) return "never";
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

function table(caption, columns, rows, attrs) {
  return el("div", { class: "table-wrap" },
    el("table", attrs || {},
      caption ? el("caption", { text: caption }) : null,
      el("thead", {}, el("tr", {}, columns.map((column) =>
        el("th", { scope: "col", class: column.num ? "num" : null, text: column.label })))),
      el("tbody", {}, rows.map((row) => el("tr", {}, columns.map((column) => {
        const value = column.value(row);
        return el("td", { class: column.num ? "num" : null }, value instanceof Node ? value : String(value));
      }))))));
}

function panel(title, ...children) {
  const id = `h-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return el("section", { class: "panel", "aria-labelledby": id }, el("h3", { id, text: title }), ...children);
}

function wide(node) {
  node.classList.add("wide");
  return node;
}

function chartBox(id, label) {
  return el("div", { id, class: "chart", role: "img", "aria-label": label });
}

function notice(text) {
  return el("p", { class: "notice", text });
}

function plot(id, traces, layout) {
  const node = document.getElementById(id);
  if (!node) return;
  const base = {
    margin: { l: 60, r: 20, t: 10, b: 50 },
    font: { family: "system-ui, sans-serif", size: 13, color: "#1b1f24" },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    legend: { orientation: "h", y: -0.2 },
    colorway: COLOURS,
  };
  Plotly.newPlot(node, traces, { ...base, ...layout }, PLOT_CONFIG);
  node.dataset.rendered = "true";
}

/* ---------- the API ---------- */

async function call(path, options) {
  const response = await fetch(path, {
    ...(options || {}),
    headers: { "X-API-Key": state.key, Accept: "application/json", ...((options || {}).headers || {}) },
  });
  if (response.status === 401) {
    signOut("The key is unknown or was revoked; sign in again.");
    throw new ApiError(401, await response.json().catch(() => null));
  }
  return response;
}

async function api(path) {
  const response = await call(path);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/* Every item of a keyset-paged list (bounded: a dashboard shows summaries, not dumps). */
async function allItems(path, cap) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(path + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < cap);
  return items;
}

/* A call whose absence (404: not offered by this release, or nothing computed) is expected. */
async function optional(path) {
  try {
    return await api(path);
  } catch (error) {
    if (error.status === 404 || error.status === 503) return null;
    throw error;
  }
}

async function download(path, fallbackName) {
  const response = await call(path, { headers: { Accept: "text/csv" } });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const blob = await response.blob();
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  const link = el("a", { href: URL.createObjectURL(blob), download: match ? match[1] : fallbackName });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

function can(scope) {
  return Boolean(state.session && state.session.scopes.includes(scope));
}

/* ---------- sign in ---------- */

async function signIn(key) {
  state.key = key;
  const response = await fetch("/v1/dashboard/session", { headers: { "X-API-Key": key } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    state.key = null;
    if (response.status === 403) {
      const role = body && body.role ? `A ${body.role} key` : "This key";
      throw new Error(`${role} cannot open the dashboard: use a key of the marketing or admin role.`);
    }
    if (response.status === 401) throw new Error("The key is unknown or revoked.");
    throw new Error((body && body.detail) || `The gateway answered ${response.status}.`);
  }
  state.session = body;
  sessionStorage.setItem(KEY_STORAGE, key);
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = null;
  state.session = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  document.getElementById("page").replaceChildren();
  document.getElementById("sign-in").hidden = false;
  document.getElementById("sign-in-error").textContent = message || "";
  document.getElementById("api-key").focus();
}

function showSignedIn() {
  document.getElementById("sign-in").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("who").hidden = false;
  document.getElementById("role").textContent = `Signed in: ${state.session.role} key ${state.session.key_id}`;
  for (const link of document.querySelectorAll("#nav a")) {
    const offered = state.session.pages.includes(link.dataset.page);
    link.classList.toggle("locked", !offered);
    link.title = offered ? "" : "Not available to this key";
  }
}

/* ---------- routing ---------- */

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const page = PAGES.includes(parts[0]) ? parts[0] : "overview";
  return { page, arg: parts[1] || null };
}

async function render() {
  if (!state.session) return;
  const { page, arg } = route();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const token = ++state.renderToken;
  const root = document.getElementById("page");
  const heading = el("h2", { text: PAGE_TITLES[page] });
  const body = el("div", { class: "page-body", "aria-busy": "true" }, el("p", { class: "muted", text: "Loading…" }));
  root.replaceChildren(heading, body);
  document.title = `${PAGE_TITLES[page]} · CRM dashboard`;
  if (!state.session.pages.includes(page)) {
    body.replaceChildren(notice(PAGE_NEEDS[page] ||
      `This page needs scopes a ${state.session.role} key does not hold.`));
    body.removeAttribute("aria-busy");
    root.dataset.page = page;
    root.dataset.ready = String(token);
    return;
  }
  try {
    const content = await RENDERERS[page](arg, body);
    if (token !== state.renderToken) return;
    body.replaceChildren(...content.nodes);
    body.removeAttribute("aria-busy");
    if (content.draw) content.draw();
    root.dataset.page = page;
    root.dataset.ready = String(token);
  } catch (error) {
    if (token !== state.renderToken) return;
    body.replaceChildren(el("p", { class: "error", role: "alert", text: `Could not load the page: ${error.message}` }));
    body.removeAttribute("aria-busy");
    root.dataset.page = page;
    root.dataset.ready = String(token);
  }
}

/* ---------- Overview ---------- */

function kpi(label, value, note, id) {
  return el("div", { class: "kpi", id },
    el("div", { class: "label", text: label }),
    el("div", { class: "value", text: value }),
    note ? el("div", { class: "note", text: note }) : null);
}

function runStatus(status) {
  return el("span", { class: `status ${status}`, text: status });
}

async function renderOverview() {
  const [summary, sales, runs, training] = await Promise.all([
    api("/v1/scores/summary"),
    api("/v1/orders/summary?interval=week&periods=26"),
    api("/v1/runs?limit=5"),
    optional("/v1/models/training-runs?limit=5"),
  ]);
  const stages = Object.fromEntries(summary.lifecycle_stages.map((stage) => [stage.name, stage.customers]));
  const active = (stages.active || 0) + (stages.new || 0);
  const current = runs.items.find((run) => run.current);
  const staleness = current && current.data_as_of ? ago(current.data_as_of) : "no run yet";

  const kpis = el("div", { class: "kpis" },
    kpi("Customers", fmt(summary.customers), "with at least one order", "kpi-customers"),
    kpi("Active customers", fmt(active), "lifecycle new or active", "kpi-active"),
    kpi("Revenue", fmt(summary.revenue), "net of refunds, as of the last scoring run", "kpi-revenue"),
    kpi("Orders", fmt(sales.orders), "in the 26 weeks to the latest order", "kpi-orders"),
    kpi("Lifetime value", fmt(summary.clv), "expected, all customers", "kpi-clv"),
    kpi("Scores computed", staleness, current ? `data as of ${when(current.data_as_of)}` : "", "kpi-staleness"));

  const interval = el("select", { id: "sales-interval", "aria-label": "Group orders by" },
    el("option", { value: "week", text: "by week (26 weeks)" }),
    el("option", { value: "month", text: "by month (24 months)" }));
  const salesPanel = panel("Orders and revenue over time",
    el("div", { class: "toolbar" }, el("label", { for: "sales-interval", text: "Group" }), interval),
    chartBox("chart-sales", "Orders per period as bars and net revenue per currency as lines"),
    el("p", { class: "muted", id: "sales-window" }));

  const drawSales = (data) => {
    const periodsOf = (currency) => data.periods.filter((period) => period.currency === currency);
    const x = [...new Set(data.periods.map((period) => period.period_start))];
    const orders = x.map((start) => data.periods
      .filter((period) => period.period_start === start)
      .reduce((total, period) => total + period.orders, 0));
    const traces = [{ type: "bar", name: "Orders", x, y: orders, marker: { color: "#9fb8e0" } }];
    for (const currency of data.currencies) {
      const rows = periodsOf(currency);
      traces.push({
        type: "scatter", mode: "lines+markers", name: `Revenue (${currency})`, yaxis: "y2",
        x: rows.map((row) => row.period_start), y: rows.map((row) => Number(row.net_revenue)),
      });
    }
    plot("chart-sales", traces, {
      xaxis: { title: { text: data.interval === "week" ? "Week starting" : "Month" } },
      yaxis: { title: { text: "Orders" }, rangemode: "tozero" },
      yaxis2: { title: { text: "Net revenue" }, overlaying: "y", side: "right", rangemode: "tozero" },
      margin: { l: 60, r: 70, t: 10, b: 50 },
    });
    document.getElementById("sales-window").textContent =
      `${data.start} to ${data.end} (exclusive): ${fmt(data.orders)} orders by ${fmt(data.customers)} customers.`;
  };
  interval.addEventListener("change", async () => {
    const periods = interval.value === "week" ? 26 : 24;
    drawSales(await api(`/v1/orders/summary?interval=${interval.value}&periods=${periods}`));
  });

  const scoringRuns = panel("Scoring runs",
    runs.items.length ? table("Latest scoring runs, newest first", [
      { label: "Status", value: (run) => runStatus(run.status) },
      { label: "Serving", value: (run) => (run.current ? "current" : "") },
      { label: "Requested", value: (run) => when(run.requested_at) },
      { label: "Took", num: true, value: (run) => (run.duration_seconds === null ? "–" : `${fmt2(run.duration_seconds)} s`) },
      { label: "Data as of", value: (run) => (run.data_as_of ? `${when(run.data_as_of)} (${ago(run.data_as_of)})` : "–") },
      { label: "Customers", num: true, value: (run) => fmt(run.customers_scored) },
    ], runs.items, { id: "table-runs" }) : notice("No scoring run yet."));

  const trainingRuns = panel("Model training runs",
    training === null ? notice("The recommendation service is not reachable.")
      : training.items.length ? table("Latest training runs, newest first", [
        { label: "Status", value: (run) => runStatus(run.status) },
        { label: "Model", value: (run) => run.model },
        { label: "Version", num: true, value: (run) => (run.version === null ? "–" : run.version) },
        { label: "Finished", value: (run) => (run.finished_at ? `${when(run.finished_at)} (${ago(run.finished_at)})` : "–") },
        { label: "nDCG", num: true, value: (run) => (run.metrics ? fmt2(run.metrics.ndcg) : "–") },
      ], training.items, { id: "table-training" }) : notice("No training run yet."));

  return {
    nodes: [kpis, el("div", { class: "grid" }, wide(salesPanel), wide(scoringRuns), wide(trainingRuns))],
    draw: () => drawSales(sales),
  };
}

/* ---------- Segments ---------- */

async function renderSegments(segmentId) {
  if (segmentId) return renderMembers(segmentId);
  const [items, summary] = await Promise.all([allItems("/v1/segments?limit=200", 2000), api("/v1/scores/summary")]);
  const total = summary.customers || 1;
  const largest = [...items].sort((a, b) => (b.size || 0) - (a.size || 0)).slice(0, TREND_SEGMENTS);
  const histories = await Promise.all(largest.map((segment) =>
    api(`/v1/segments/${encodeURIComponent(segment.id)}/history?limit=30`).then((page) => [segment, page.items])));

  const list = panel("Segment sizes",
    table("Every built-in and custom segment in the current run", [
      { label: "Segment", value: (s) => el("a", { href: `#/segments/${encodeURIComponent(s.id)}`, text: s.name }) },
      { label: "Kind", value: (s) => s.kind },
      { label: "Customers", num: true, value: (s) => fmt(s.size) },
      { label: "Share", num: true, value: (s) => (s.size === null ? "–" : pct(s.size / total)) },
      { label: "Revenue", num: true, value: (s) => fmt(s.revenue) },
    ], items, { id: "table-segments" }));

  const metric = el("select", { id: "rfm-metric", "aria-label": "Colour the RFM grid by" },
    el("option", { value: "customers", text: "customer count" }),
    el("option", { value: "revenue", text: "revenue" }));
  const grid = panel("RFM grid",
    el("div", { class: "toolbar" }, el("label", { for: "rfm-metric", text: "Colour by" }), metric),
    chartBox("chart-rfm", "Heat map of recency score by frequency score"),
    el("p", { class: "muted", text: "Recency score (5 = bought most recently) by frequency score (5 = most orders)." }));

  const drawGrid = () => {
    const key = metric.value;
    const scores = [1, 2, 3, 4, 5];
    const z = scores.map((r) => scores.map((f) => {
      const cell = summary.rfm_grid.find((c) => c.r_score === r && c.f_score === f);
      return cell ? cell[key] : 0;
    }));
    plot("chart-rfm", [{
      type: "heatmap", x: scores, y: scores, z, hoverongaps: false,
      colorscale: [[0, "#f1f5fb"], [0.5, "#6b9bd8"], [1, "#0b2a5c"]],
      text: z.map((row) => row.map((v) => fmt(v))), texttemplate: "%{text}",
      colorbar: { title: { text: key === "customers" ? "Customers" : "Revenue" } },
      hovertemplate: `R %{y} × F %{x}: %{text} ${key}<extra></extra>`,
    }], {
      xaxis: { title: { text: "Frequency score" }, dtick: 1 },
      yaxis: { title: { text: "Recency score" }, dtick: 1 },
    });
  };
  metric.addEventListener("change", drawGrid);

  const sizes = panel("Sizes", chartBox("chart-segment-sizes", "Bar chart of segment sizes"),
    el("p", { class: "muted" }, "Colour by kind: ",
      Object.entries(KIND_NAMES).map(([kind, name], index) => [index ? ", " : "",
        el("span", { style: `color: ${KIND_COLOURS[kind]}; font-weight: 600`, text: name })]), "."));
  const trend = panel("Trend across runs", chartBox("chart-segment-trend", "Segment sizes over the scoring runs"),
    el("p", { class: "muted", text: `Customers in each of the ${TREND_SEGMENTS} largest segments at each scoring run (click a legend entry to hide a line).` }));

  const draw = () => {
    const sorted = [...items].filter((s) => s.size !== null).sort((a, b) => a.size - b.size);
    plot("chart-segment-sizes", [{
      type: "bar", orientation: "h", x: sorted.map((s) => s.size), y: sorted.map((s) => s.name),
      marker: { color: sorted.map((s) => KIND_COLOURS[s.kind] || "#495057") },
      hovertemplate: "%{y}: %{x} customers<extra></extra>",
    }], {
      margin: { l: 20, r: 20, t: 10, b: 40 }, xaxis: { title: { text: "Customers" } },
      yaxis: { automargin: true }, height: Math.max(320, sorted.length * 24),
    });
    plot("chart-segment-trend", histories.filter(([, history]) => history.length).map(([segment, history]) => {
      const points = [...history].reverse();
      return {
        type: "scatter", mode: "lines+markers", name: segment.name,
        x: points.map((p) => when(p.measured_at)), y: points.map((p) => p.customers),
      };
    }), {
      xaxis: { title: { text: "Scoring run" }, type: "category" },
      yaxis: { title: { text: "Customers" }, rangemode: "tozero" },
      legend: { orientation: "v", x: 1.02, y: 1 }, margin: { l: 60, r: 20, t: 10, b: 60 },
    });
    drawGrid();
  };
  return { nodes: [el("div", { class: "grid" }, grid, sizes, wide(trend), wide(list))], draw };
}

async function renderMembers(segmentId) {
  const segment = await api(`/v1/segments/${encodeURIComponent(segmentId)}`);
  const cursors = [null];
  const channel = el("select", { id: "member-channel" },
    el("option", { value: "email", text: "email" }), el("option", { value: "sms", text: "SMS" }));
  const consent = el("select", { id: "member-consent" },
    el("option", { value: "granted", text: "consented only" }), el("option", { value: "any", text: "everyone" }));
  const holder = el("div", { id: "members" });
  const position = el("span", { class: "muted", id: "members-position" });
  const previous = el("button", { type: "button", class: "secondary", id: "members-previous", text: "Previous page" });
  const next = el("button", { type: "button", class: "secondary", id: "members-next", text: "Next page" });
  const csv = el("button", { type: "button", id: "members-csv", text: "Download CSV" });
  const csvStatus = el("span", { class: "muted", id: "csv-status", role: "status" });

  const filters = () => `channel=${channel.value}&consent=${consent.value}`;
  const load = async () => {
    const cursor = cursors[cursors.length - 1];
    const page = await api(`/v1/segments/${encodeURIComponent(segment.id)}/members?limit=${MEMBERS_PAGE}&${filters()}` +
      (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
    holder.replaceChildren(page.items.length ? table(`Members of ${segment.name}`, [
      { label: "Customer", value: (m) => customerLink(m.customer_id, [m.first_name, m.last_name].filter(Boolean).join(" ") || m.customer_id) },
      { label: "Email", value: (m) => m.email || "–" },
      { label: "Country", value: (m) => m.country || "–" },
      { label: "RFM segment", value: (m) => m.rfm_segment },
      { label: "Tier", value: (m) => m.value_tier },
      { label: "Orders", num: true, value: (m) => fmt(m.frequency) },
      { label: "Revenue", num: true, value: (m) => fmt2(m.monetary) },
      { label: "CLV", num: true, value: (m) => fmt2(m.clv) },
      { label: "Last purchase", value: (m) => when(m.last_purchase_at) },
    ], page.items, { id: "table-members" }) : notice("No members with these filters."));
    position.textContent = `Page ${cursors.length}` + (page.items.length ? `, ${page.items.length} members shown` : "");
    previous.disabled = cursors.length === 1;
    next.disabled = !page.next_cursor;
    next.onclick = async () => { cursors.push(page.next_cursor); await load(); };
  };
  previous.addEventListener("click", async () => { cursors.pop(); await load(); });
  for (const select of [channel, consent]) {
    select.addEventListener("change", async () => { cursors.splice(1); await load(); });
  }
  csv.addEventListener("click", async () => {
    csvStatus.textContent = "Preparing…";
    try {
      await download(`/v1/segments/${encodeURIComponent(segment.id)}/members.csv?${filters()}`, `segment-${segment.id}.csv`);
      csvStatus.textContent = "Downloaded.";
    } catch (error) {
      csvStatus.textContent = `Download failed: ${error.message}`;
    }
  });
  await load();
  return {
    nodes: [
      el("p", {}, el("a", { href: "#/segments", text: "← All segments" })),
      panel(segment.name,
        el("dl", { class: "facts" },
          el("dt", { text: "Kind" }), el("dd", { text: segment.kind }),
          el("dt", { text: "Rule" }), el("dd", {}, el("code", { text: segment.rule })),
          el("dt", { text: "Customers" }), el("dd", { id: "segment-size", text: fmt(segment.size) }),
          el("dt", { text: "Revenue" }), el("dd", { text: fmt(segment.revenue) })),
        el("div", { class: "toolbar" },
          el("label", { for: "member-channel", text: "Channel" }), channel,
          el("label", { for: "member-consent", text: "Consent" }), consent,
          csv, csvStatus),
        holder,
        el("div", { class: "pager" }, previous, next, position)),
    ],
  };
}

function customerLink(customerId, label) {
  const page = can("customers:read") ? "customer" : "recommendations";
  return el("a", { href: `#/${page}/${customerId}`, text: label });
}

/* ---------- Value ---------- */

const MEASURES = {
  clv: "Lifetime value (CLV)",
  monetary: "Revenue to date",
  frequency: "Orders",
  probability_alive: "Probability still active",
  churn_probability: "Churn probability",
  forecast_spend: "Expected spend (forecast)",
  recency_days: "Days since last order",
};

function skippedNotice(title, body) {
  if (body === null) {
    return notice(`${title}: not computed yet. They appear here once a scoring run computes them.`);
  }
  if (body.skipped) return notice(`${title}: not computed in the current run (${body.skipped}).`);
  return null;
}

function churnPanel(churn) {
  const missing = skippedNotice("Churn-risk bands", churn);
  if (missing) return panel("Churn-risk bands", missing);
  const validation = churn.validation || {};
  return panel("Churn-risk bands",
    chartBox("chart-churn", "Customers and revenue per churn-risk band"),
    facts([
      ["Model", `${churn.model}, churn within ${churn.horizon_days} days`],
      ["Bands", `medium from ${pct(churn.medium_threshold)}, high from ${pct(churn.high_threshold)}`],
      ["Validation", validation.auc === undefined ? "–"
        : `AUC ${fmt2(validation.auc)} (recency alone ${fmt2(validation.recency_auc)}), precision ${pct(validation.precision)}, recall ${pct(validation.recall)}`],
    ]),
    table(null, [
      { label: "Band", value: (b) => b.name },
      { label: "Customers", num: true, value: (b) => fmt(b.customers) },
      { label: "Revenue", num: true, value: (b) => fmt(b.revenue) },
    ], churn.bands, { id: "table-churn" }));
}

const CENTROID_LABELS = {
  recency_days: "Days since last order", frequency: "Orders", monetary: "Revenue",
  average_order_value: "Average order", quantity: "Units", tenure_days: "Days as customer", clv: "CLV",
};

function clustersPanel(clusters) {
  const missing = skippedNotice("Cluster profiles", clusters);
  if (missing) return panel("Cluster profiles", missing);
  const items = clusters.clusters;
  const metrics = Object.keys(items.length ? items[0].centroid : {});
  const rows = [
    { name: "Customers", cells: items.map((c) => fmt(c.customers)) },
    { name: "Revenue share", cells: items.map((c) => pct(c.revenue_share)) },
    ...metrics.map((metric) => ({ name: CENTROID_LABELS[metric] || metric, cells: items.map((c) => fmt2(c.centroid[metric])) })),
  ];
  return panel("Cluster profiles",
    el("p", { class: "muted", text: `${clusters.k} clusters (silhouette ${fmt2(clusters.silhouette)}). Bars: each cluster's typical customer, relative to the largest cluster value of the measure.` }),
    chartBox("chart-clusters", "Cluster profiles side by side"),
    table(null, [
      { label: "", value: (row) => row.name },
      ...items.map((cluster, index) => ({ label: `${cluster.cluster_id}: ${cluster.label}`, num: true, value: (row) => row.cells[index] })),
    ], rows, { id: "table-clusters" }));
}

function drawClusters(clusters) {
  if (!document.getElementById("chart-clusters")) return;
  const items = clusters.clusters;
  const metrics = Object.keys(items.length ? items[0].centroid : {});
  const largest = Object.fromEntries(metrics.map((m) => [m, Math.max(...items.map((c) => Math.abs(c.centroid[m]))) || 1]));
  plot("chart-clusters", items.map((cluster) => ({
    type: "bar", name: `${cluster.cluster_id}: ${cluster.label}`,
    x: metrics.map((m) => CENTROID_LABELS[m] || m),
    y: metrics.map((m) => cluster.centroid[m] / largest[m]),
    customdata: metrics.map((m) => fmt2(cluster.centroid[m])),
    hovertemplate: "%{x}: %{customdata}<extra>%{fullData.name}</extra>",
  })), { barmode: "group", yaxis: { title: { text: "Relative to the largest" }, range: [0, 1.05], tickformat: ".0%" } });
}

function forecastPanel(forecast) {
  const missing = skippedNotice("Spend forecast", forecast);
  if (missing) return panel("Spend forecast", missing);
  const errors = [["model_error", `Model (${forecast.model})`], ["bgnbd_error", "BG/NBD × average order"], ["naive_mean_error", "Everyone the mean"]]
    .filter(([key]) => forecast[key]);
  return panel("Spend forecast",
    facts([
      ["Expected spend", `${fmt(forecast.forecast_total)} over the next ${forecast.horizon_days} days, ${fmt(forecast.customers)} customers`],
      ["Checked on", `${fmt(forecast.holdout_customers)} customers after ${forecast.holdout_cutoff}: actual ${fmt(forecast.holdout_actual_total)}`],
    ]),
    chartBox("chart-forecast", "Mean absolute error per customer of the forecast and its baselines"),
    table(null, [
      { label: "Method", value: (row) => row[1] },
      { label: "MAE", num: true, value: (row) => fmt2(forecast[row[0]].mae) },
      { label: "RMSE", num: true, value: (row) => fmt2(forecast[row[0]].rmse) },
      { label: "Predicted total", num: true, value: (row) => fmt(forecast[row[0]].predicted_total) },
    ], errors, { id: "table-forecast" }));
}

function drawForecast(forecast) {
  if (!document.getElementById("chart-forecast")) return;
  const errors = [["model_error", `Model (${forecast.model})`], ["bgnbd_error", "BG/NBD"], ["naive_mean_error", "Mean"]]
    .filter(([key]) => forecast[key]);
  plot("chart-forecast", [{
    type: "bar", x: errors.map(([, label]) => label), y: errors.map(([key]) => forecast[key].mae), marker: { color: "#862e9c" },
  }], { yaxis: { title: { text: "Mean absolute error per customer" }, rangemode: "tozero" } });
}

async function renderValue() {
  const [summary, churn, clusters, forecast] = await Promise.all([
    api("/v1/scores/summary"),
    optional("/v1/insights/churn"),
    optional("/v1/insights/clusters"),
    optional("/v1/insights/forecast"),
  ]);
  const measure = el("select", { id: "distribution-measure", "aria-label": "Measure" },
    Object.entries(MEASURES).map(([value, text]) => el("option", { value, text })));
  const logScale = el("input", { type: "checkbox", id: "distribution-log" });
  const histogram = panel("Distribution",
    el("div", { class: "toolbar" },
      el("label", { for: "distribution-measure", text: "Measure" }), measure,
      logScale, el("label", { for: "distribution-log", text: "Logarithmic count axis" })),
    chartBox("chart-distribution", "Histogram of the chosen measure over the customers"),
    el("p", { class: "muted", id: "distribution-note" }));

  const drawHistogram = async () => {
    const data = await api(`/v1/scores/distribution?measure=${measure.value}&bins=30`);
    const centres = data.bins.map((bin) => (bin.lower + bin.upper) / 2);
    plot("chart-distribution", [{
      type: "bar", x: centres, y: data.bins.map((bin) => bin.customers),
      width: data.bins.map((bin) => (bin.upper - bin.lower) * 0.95),
      customdata: data.bins.map((bin) => [fmt2(bin.lower), fmt2(bin.upper)]),
      hovertemplate: "%{customdata[0]} – %{customdata[1]}: %{y} customers<extra></extra>",
      marker: { color: "#1f5fbf" },
    }], {
      xaxis: { title: { text: MEASURES[measure.value] } },
      yaxis: { title: { text: "Customers" }, type: logScale.checked ? "log" : "linear" },
    });
    document.getElementById("distribution-note").textContent = data.customers
      ? `${fmt(data.customers)} customers, mean ${fmt2(data.mean)}, from ${fmt2(data.minimum)} to ${fmt2(data.maximum)}` +
        (data.missing ? `; ${fmt(data.missing)} without a value.` : ".")
      : "No scores yet.";
  };
  measure.addEventListener("change", drawHistogram);
  logScale.addEventListener("change", drawHistogram);

  const tierRows = [...summary.tiers].sort((a, b) => (TIER_ORDER[a.name] ?? 9) - (TIER_ORDER[b.name] ?? 9));
  const tiers = panel("Value tiers", chartBox("chart-tiers", "Customers and revenue per value tier"),
    table(null, [
      { label: "Tier", value: (t) => t.name },
      { label: "Customers", num: true, value: (t) => fmt(t.customers) },
      { label: "Revenue", num: true, value: (t) => fmt(t.revenue) },
    ], tierRows, { id: "table-tiers" }));
  const stages = panel("Lifecycle stages", chartBox("chart-stages", "Customers per lifecycle stage"));

  const draw = async () => {
    const sorted = tierRows;
    plot("chart-tiers", [
      { type: "bar", name: "Customers", x: sorted.map((t) => t.name), y: sorted.map((t) => t.customers), offsetgroup: 1 },
      { type: "bar", name: "Revenue", x: sorted.map((t) => t.name), y: sorted.map((t) => t.revenue), yaxis: "y2", offsetgroup: 2 },
    ], {
      yaxis: { title: { text: "Customers" } },
      yaxis2: { title: { text: "Revenue" }, overlaying: "y", side: "right" },
      margin: { l: 60, r: 70, t: 10, b: 50 },
    });
    plot("chart-stages", [{
      type: "bar", x: summary.lifecycle_stages.map((s) => s.name), y: summary.lifecycle_stages.map((s) => s.customers),
      marker: { color: "#2b8a3e" },
    }], { yaxis: { title: { text: "Customers" } } });
    if (document.getElementById("chart-churn")) {
      const bands = churn.bands;
      plot("chart-churn", [
        { type: "bar", name: "Customers", x: bands.map((b) => b.name), y: bands.map((b) => b.customers), marker: { color: "#d9480f" }, offsetgroup: 1 },
        { type: "bar", name: "Revenue", x: bands.map((b) => b.name), y: bands.map((b) => b.revenue), yaxis: "y2", marker: { color: "#9fb8e0" }, offsetgroup: 2 },
      ], {
        yaxis: { title: { text: "Customers" } },
        yaxis2: { title: { text: "Revenue" }, overlaying: "y", side: "right" },
        margin: { l: 60, r: 70, t: 10, b: 50 },
      });
    }
    if (clusters !== null && !clusters.skipped) drawClusters(clusters);
    if (forecast !== null && !forecast.skipped) drawForecast(forecast);
    await drawHistogram();
  };
  return {
    nodes: [el("div", { class: "grid" }, wide(histogram), tiers, stages,
      churnPanel(churn), forecastPanel(forecast), wide(clustersPanel(clusters)))],
    draw,
  };
}

/* ---------- Customer ---------- */

function customerForm(page, customerId) {
  const input = el("input", { type: "text", id: "customer-id", name: "customer-id", value: customerId || "",
    placeholder: "customer id (UUID)", size: 40, required: true, pattern: "[0-9a-fA-F-]{36}" });
  const form = el("form", { class: "toolbar", id: "customer-form" },
    el("label", { for: "customer-id", text: "Customer id" }), input,
    el("button", { type: "submit", text: "Show" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/${page}/${input.value.trim()}`;
  });
  return form;
}

function facts(pairs) {
  return el("dl", { class: "facts" }, pairs.flatMap(([label, value]) => [el("dt", { text: label }), el("dd", {}, value === null || value === undefined ? "–" : value)]));
}

function recommendationTable(list, id) {
  if (!list || !list.items || !list.items.length) return notice("No recommendations for this customer yet.");
  return el("div", {},
    el("p", { class: "muted", text: `Model version ${list.model_version ?? "none"}${list.fallback ? " · popular items stand in (no personal list)" : ""}.` }),
    table(null, [
      { label: "#", num: true, value: (r) => r.rank },
      { label: "Product", value: (r) => r.name || r.sku },
      { label: "SKU", value: (r) => r.sku },
      { label: "Why", value: (r) => r.reason },
      { label: "Source", value: (r) => r.source },
      { label: "Score", num: true, value: (r) => r.score.toFixed(3) },
    ], list.items.map((item, index) => ({ ...item, rank: index + 1 })), { id }));
}

async function renderCustomer(customerId) {
  const nodes = [customerForm("customer", customerId)];
  if (!customerId) return { nodes: [...nodes, el("p", { class: "muted", text: "Enter a customer id, or open one from a segment's member list." })] };
  let view;
  try {
    view = await api(`/v1/customers/${encodeURIComponent(customerId)}/360`);
  } catch (error) {
    if (error.status === 404 || error.status === 422) return { nodes: [...nodes, notice(`No customer ${customerId}.`)] };
    throw error;
  }
  const customer = view.customer;
  const name = [customer.first_name, customer.last_name].filter(Boolean).join(" ") || customer.email || customer.id;
  const scores = view.scores;
  const orders = view.order_summary;
  const consents = (customer.consents || []).map((c) => `${c.channel}: ${c.granted ? "yes" : "no"}`).join(", ");
  const profile = panel(`Profile: ${name}`, facts([
    ["Email", customer.email], ["Phone", customer.phone],
    ["Country", customer.address && customer.address.country], ["Lifecycle", customer.lifecycle_stage],
    ["Tags", (customer.tags || []).join(", ") || "none"], ["Consents", consents || "none"],
    ["Customer since", when(customer.created_at)],
  ]));
  const orderPanel = panel("Orders", orders ? facts([
    ["Orders", fmt(orders.order_count)], ["Cancelled", fmt(orders.cancelled_count)],
    ["Net revenue", orders.net_revenue === null ? "per currency below" : `${orders.net_revenue} ${orders.currency}`],
    ["Average order", orders.average_order_value === null ? "–" : `${orders.average_order_value} ${orders.currency}`],
    ["First order", when(orders.first_order_at)], ["Last order", when(orders.last_order_at)],
  ]) : notice("Orders are unavailable right now."));
  const scorePanel = panel("Scores and segments", scores ? el("div", {},
    facts([
      ["RFM", `R${scores.r_score} F${scores.f_score} M${scores.m_score} · ${scores.rfm_segment}`],
      ["Value tier", scores.value_tier], ["Lifecycle (scored)", scores.lifecycle_stage],
      ["CLV", fmt2(scores.clv)], ["Probability active", pct(scores.probability_alive)],
      ["Churn risk", scores.churn_risk ? `${scores.churn_risk} (${pct(scores.churn_probability)})` : "not computed yet"],
      ["Cluster", scores.cluster_label || "not computed yet"],
      ["Expected spend", scores.forecast_spend === undefined || scores.forecast_spend === null ? "not computed yet" : fmt2(scores.forecast_spend)],
    ]),
    el("h4", { text: "Segments" }),
    el("ul", { class: "plain", id: "customer-segments" }, (scores.segments || []).map((s) =>
      el("li", {}, el("a", { href: `#/segments/${encodeURIComponent(s.id)}`, text: s.name }))))) : notice("No scores: the customer has no order in the current run."));
  const tickets = panel("Open tickets", view.open_tickets === null ? notice("Tickets are unavailable right now.")
    : view.open_tickets.length ? table(null, [
      { label: "Subject", value: (t) => t.subject }, { label: "Kind", value: (t) => t.kind },
      { label: "Status", value: (t) => t.status }, { label: "Opened", value: (t) => when(t.created_at) },
    ], view.open_tickets) : el("p", { text: "No open ticket." }));
  const recommendations = panel("Recommendations", view.recommendations === null
    ? notice("Recommendations are unavailable right now.") : recommendationTable(view.recommendations, "table-customer-recommendations"));
  const missing = view.partial ? notice(`Partial view: ${view.unavailable.map((u) => `${u.part} (${u.reason})`).join(", ")}.`) : null;
  return { nodes: [...nodes, missing, el("div", { class: "grid", id: "customer-360" }, profile, orderPanel, scorePanel, tickets, wide(recommendations))].filter(Boolean) };
}

/* ---------- Recommendations ---------- */

const METRICS = [["precision", "Precision"], ["recall", "Recall"], ["ndcg", "nDCG"], ["map", "MAP"]];

async function renderRecommendations(customerId) {
  const models = await optional("/v1/models?limit=6");
  const nodes = [];
  const forCustomer = panel("For a customer", customerForm("recommendations", customerId));
  if (customerId) {
    try {
      const list = await api(`/v1/recommendations/${encodeURIComponent(customerId)}?limit=10`);
      forCustomer.append(recommendationTable(list, "table-recommendations"));
    } catch (error) {
      forCustomer.append(notice(error.status === 422 ? "That is not a customer id." : `No recommendations: ${error.message}`));
    }
  } else {
    forCustomer.append(el("p", { class: "muted", text: "Enter a customer id, or open one from a segment's member list." }));
  }
  const versions = models ? models.items.filter((version) => version.metrics) : [];
  const evaluation = panel("Offline evaluation of the models",
    versions.length ? chartBox("chart-evaluation", "Precision, recall, nDCG and MAP at k of the current and previous model versions")
      : notice("No evaluated model version yet."),
    versions.length ? table("Model versions, newest first", [
      { label: "Version", num: true, value: (v) => v.version },
      { label: "Model", value: (v) => v.model },
      { label: "Serving", value: (v) => (v.active ? "current" : "") },
      { label: "k", num: true, value: (v) => v.metrics.k ?? "–" },
      ...METRICS.map(([key, label]) => ({ label, num: true, value: (v) => (v.metrics[key] === undefined ? "–" : v.metrics[key].toFixed(4)) })),
      { label: "Coverage", num: true, value: (v) => pct(v.metrics.coverage) },
      { label: "Trained", value: (v) => when(v.created_at) },
    ], versions, { id: "table-models" }) : null);
  nodes.push(el("div", { class: "grid" }, wide(evaluation), wide(forCustomer)));
  const draw = () => {
    if (!versions.length) return;
    const shown = [...versions].reverse();
    plot("chart-evaluation", shown.map((version) => ({
      type: "bar",
      name: `v${version.version} ${version.model}${version.active ? " (current)" : ""}`,
      x: METRICS.map(([, label]) => `${label}@${version.metrics.k ?? "k"}`),
      y: METRICS.map(([key]) => version.metrics[key] ?? null),
    })), { barmode: "group", showlegend: true, yaxis: { title: { text: "Score on the holdout" }, rangemode: "tozero" } });
  };
  return { nodes, draw };
}

const RENDERERS = {
  overview: renderOverview,
  segments: renderSegments,
  value: renderValue,
  customer: renderCustomer,
  recommendations: renderRecommendations,
};

/* ---------- start ---------- */

document.getElementById("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("api-key");
  const error = document.getElementById("sign-in-error");
  error.textContent = "";
  try {
    await signIn(input.value.trim());
    input.value = "";
    showSignedIn();
    await render();
  } catch (failure) {
    error.textContent = failure.message;
  }
});
document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", () => { render(); document.getElementById("view").focus(); });

(async () => {
  const saved = sessionStorage.getItem(KEY_STORAGE);
  if (saved) {
    try {
      await signIn(saved);
      showSignedIn();
      await render();
      return;
    } catch (failure) {
      signOut(failure.message);
      return;
    }
  }
  signOut("");
})();
