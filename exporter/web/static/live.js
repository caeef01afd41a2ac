// The live notifications page: follows /api/v1/notifications/stream and shows one card per
// active notification. Everything a station sent is untrusted, so the DOM is built with
// textContent only, never innerHTML.
"use strict";

const STREAM = "api/v1/notifications/stream";
const FILTERS = ["site", "severity", "kind", "station"];
const KIND_NAMES = {
  ocpp_error: "Connector error",
  station_offline: "Station offline",
  controller_offline: "Controller offline",
  ems_offline: "EMS offline",
};

const active = new Map(); // id -> {rank, notification}
const cards = new Map(); // id -> card element
const changed = new Set(); // ids whose card must be rebuilt
let renderPending = false;
let firstSnapshot = true;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

function ageText(since) {
  const started = Date.parse(since);
  if (Number.isNaN(started)) return "";
  return `active for ${duration((Date.now() - started) / 1000)}`;
}

function steps(list) {
  return el("ol", {}, ...(list || []).map((step) => el("li", {}, step)));
}

function vendorBlocks(vendor) {
  // One object per notification (a compound code is one notification per code); a list is
  // accepted too, for tools that merge them.
  const entries = Array.isArray(vendor) ? vendor : vendor ? [vendor] : [];
  return entries.map((v) =>
    el("section", { class: "vendor" },
      el("h3", {}, "Vendor code ", el("code", {}, [v.scheme, v.code].filter(Boolean).join(" ")),
        v.title ? `: ${v.title}` : ""),
      v.description ? el("p", {}, v.description) : null,
      v.reading && v.reading_of ? el("p", {}, `Reading: ${v.reading} (${v.reading_of})`) : null,
      v.station_behaviour ? el("p", {}, el("em", {}, "What the station does: "),
        v.station_behaviour) : null,
      v.responsible && v.responsible.length ? el("p", { class: "details" },
        `Responsible: ${v.responsible.join(", ")}`) : null,
      v.resolution && v.resolution.length ? el("h3", {}, "Steps for this vendor code") : null,
      v.resolution && v.resolution.length ? steps(v.resolution) : null));
}

function details(n) {
  const parts = [];
  if (n.kind === "ocpp_error") {
    if (n.status) parts.push(`reported while ${n.status}`);
    if (n.current_status && n.current_status !== n.status) parts.push(`now ${n.current_status}`);
    if (n.vendor_id) parts.push(`vendor ${n.vendor_id}`);
    if (n.vendor_error_code) parts.push(`vendor error code ${n.vendor_error_code}`);
    if (n.info) parts.push(`info: ${n.info}`);
  }
  if (n.last_seen) parts.push(`last seen ${new Date(n.last_seen).toLocaleString()}`);
  if (n.kind === "ems_offline" && n.fallback_limit_w !== undefined && n.fallback_limit_w !== null) {
    parts.push(`fallback limit ${n.fallback_limit_w} W applied`);
  }
  if (n.stations && n.stations.length) parts.push(`affects ${n.stations.join(", ")}`);
  return parts;
}

function card(id, n) {
  const headingId = `h-${encodeURIComponent(id).replace(/%/g, "_")}`;
  const code = n.error_code ? el("code", {}, n.error_code) : null;
  const where = el("p", { class: "where" },
    n.station ? el("span", {}, "Station ", el("strong", {}, n.station)) : null,
    n.controller ? el("span", {}, `Controller ${n.controller}`) : null,
    n.ems ? el("span", {}, `EMS ${n.ems}`) : null,
    n.site ? el("span", {}, `Site ${n.site}`) : null,
    n.kind === "ocpp_error" ? el("span", {}, `Connector ${n.connector}`) : null,
    el("span", { class: "age", "data-since": n.since, title: `since ${n.since}` }, ageText(n.since)));
  const extra = details(n);
  return el("article",
    { class: `card ${n.severity}`, "data-id": id, "data-kind": n.kind, "aria-labelledby": headingId },
    el("h2", { id: headingId },
      el("span", { class: `badge ${n.severity}` }, n.severity), n.title || KIND_NAMES[n.kind] || n.kind,
      code ? " " : "", code),
    where,
    el("h3", {}, "What it means"), el("p", { class: "description" }, n.description),
    n.station_behaviour ? el("h3", {}, "What the station does") : null,
    n.station_behaviour ? el("p", {}, n.station_behaviour) : null,
    el("h3", {}, "Resolution"), steps(n.resolution),
    ...vendorBlocks(n.vendor),
    extra.length ? el("p", { class: "details" }, extra.join(" · ")) : null,
    n.runbook_url ? el("p", { class: "details" }, el("a", { href: n.runbook_url }, "Runbook")) : null);
}

function currentFilters() {
  const form = document.getElementById("filters");
  const values = {};
  for (const name of FILTERS) values[name] = form.elements[name].value.trim();
  return values;
}

function matches(n, f) {
  if (f.site && n.site !== f.site) return false;
  if (f.severity && n.severity !== f.severity) return false;
  if (f.kind && n.kind !== f.kind) return false;
  if (f.station) {
    const needle = f.station.toLowerCase();
    const names = [n.station, n.controller, n.ems, ...(n.stations || [])].filter(Boolean);
    if (!names.some((name) => name.toLowerCase().includes(needle))) return false;
  }
  return true;
}

function compareRank(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] < b[i]) return -1;
    if (a[i] > b[i]) return 1;
  }
  return 0;
}

function updateSiteOptions(selected) {
  const select = document.getElementById("filters").elements.site;
  const sites = new Set([...active.values()].map((a) => a.notification.site).filter(Boolean));
  if (selected) sites.add(selected);
  const wanted = [...sites].sort();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (wanted.join("\n") === have.join("\n")) return;
  while (select.options.length > 1) select.remove(1);
  for (const site of wanted) select.add(new Option(site, site));
  select.value = selected;
}

function render() {
  const filters = currentFilters();
  updateSiteOptions(filters.site);
  const container = document.getElementById("cards");
  const shown = [...active.entries()]
    .filter(([, a]) => matches(a.notification, filters))
    .sort(([, a], [, b]) => compareRank(a.rank, b.rank));
  const keep = new Set(shown.map(([id]) => id));
  for (const [id, element] of cards) {
    if (!keep.has(id)) {
      element.remove();
      cards.delete(id);
    }
  }
  let previous = null;
  for (const [id, a] of shown) {
    let element = cards.get(id);
    if (!element || changed.has(id)) {
      const fresh = card(id, a.notification);
      if (!element && !firstSnapshot) fresh.classList.add("new");
      if (element) element.replaceWith(fresh);
      element = fresh;
      cards.set(id, element);
    }
    const expected = previous ? previous.nextElementSibling : container.firstElementChild;
    if (expected !== element) {
      if (previous) previous.after(element);
      else container.prepend(element);
    }
    previous = element;
  }
  changed.clear();
  const total = active.size;
  document.getElementById("count").textContent =
    shown.length === total ? `${total} active` : `${shown.length} of ${total} active shown`;
  document.getElementById("empty").hidden = shown.length > 0;
}

// A burst of events (a site losing power) is drawn once, not once per event.
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  setTimeout(() => {
    renderPending = false;
    render();
  }, 20);
}

function setConnection(state, text) {
  const node = document.getElementById("connection");
  node.className = state;
  node.textContent = text;
}

function readFiltersFromUrl() {
  const params = new URLSearchParams(window.location.search);
  const form = document.getElementById("filters");
  for (const name of FILTERS) {
    const value = params.get(name) || "";
    if (name === "site" && value) updateSiteOptions(value);
    form.elements[name].value = value;
  }
}

function writeFiltersToUrl() {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(currentFilters())) if (value) params.set(name, value);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

function connect() {
  const source = new EventSource(STREAM);
  const parse = (handler) => (event) => handler(JSON.parse(event.data));
  source.addEventListener("open", () => setConnection("live", "Live"));
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) {
      setConnection("connecting", "Reconnecting…");
      return;
    }
    // The browser gives up on an HTTP error (503 when the exporter has too many subscribers,
    // 401 after a password change): try again with a fresh stream, which starts with a snapshot.
    setConnection("lost", "Disconnected, retrying in 5 s");
    setTimeout(connect, 5000);
  });
  source.addEventListener("snapshot", parse((body) => {
    active.clear();
    for (const item of body.notifications) {
      active.set(item.id, item);
      changed.add(item.id);
    }
    render();
    firstSnapshot = false;
  }));
  const upsert = parse((item) => {
    active.set(item.id, item);
    changed.add(item.id);
    scheduleRender();
  });
  source.addEventListener("add", upsert);
  source.addEventListener("update", upsert);
  source.addEventListener("remove", parse((item) => {
    active.delete(item.id);
    scheduleRender();
  }));
}

function refreshAges() {
  for (const node of document.querySelectorAll(".age")) {
    node.textContent = ageText(node.dataset.since);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  readFiltersFromUrl();
  const form = document.getElementById("filters");
  form.addEventListener("input", () => { writeFiltersToUrl(); render(); });
  form.addEventListener("change", () => { writeFiltersToUrl(); render(); });
  form.addEventListener("submit", (event) => event.preventDefault());
  render();
  connect();
  setInterval(refreshAges, 1000);
});
