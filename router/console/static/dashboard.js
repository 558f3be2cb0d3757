/* The crisis dashboard. One event stream (GET /console/api/events, relayed from the
   API's /api/v1/events) keeps the picture current; the page never asks the viewer to do
   anything. Every value from the service goes into the page as text (textContent, or a
   DOM node for map tooltips), never as HTML, so a CAP text cannot run as script.
   The base map comes from the module basemap.js, which other pages share, loaded once
   the alerts are on screen. */
"use strict";

const $ = (id) => document.getElementById(id);
const alerts = new Map(); // id -> the latest `alert` event's data
const ended = []; // the latest `ended` events, newest first
let overview = null;
let view = null; // { map, layers: Map(id -> Leaflet layer) }
let scheduled = false;
let fitted = false;
let extras = false; // the base map and the feeds, asked for after the first picture

const DELIVERY_TONE = { delivered: "ok", failed: "bad", expired: "bad" };
const ALERT_TONE = { delivered: "ok", failed: "bad", partially_delivered: "bad", expired: "bad" };
const BREAKER_TONE = { closed: "ok", "half-open": "warn", open: "bad" };
const SEVERITY_RANK = { Extreme: 0, Severe: 1, Moderate: 2, Minor: 3, Unknown: 4 };

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function listOrNone(list, items) {
  list.replaceChildren(...(items.length ? items : [el("li", t("dashboard.none"), "none")]));
}

function title(alert) {
  return alert.headline || alert.event || alert.key.identifier;
}

function recipients(counts) {
  if (!counts) return "";
  return " (" + Object.entries(counts).map(([k, v]) => k + " " + v).join(", ") + ")";
}

function initMap() {
  if (!window.L) { $("map").textContent = t("dashboard.no_map"); return; }
  const map = window.L.map($("map"), { preferCanvas: true, zoomSnap: 0.25 }).setView([52.2, 5.3], 7);
  view = { map, layers: new Map() };
}

function fromFeed(alert) {
  return Boolean(alert.source && alert.source.via === "feed");
}

function drawAreas(alert) {
  if (!view || view.layers.has(alert.id)) return;
  const group = window.L.featureGroup();
  const style = { color: alert.lifecycle === "pending_approval" ? "#ffd866" : "#ff7b72", weight: 3,
    dashArray: fromFeed(alert) ? "8 6" : null }; // another authority's alert: dashed
  for (const area of alert.areas || []) {
    for (const polygon of area.polygons) window.L.polygon(polygon, style).addTo(group);
    for (const circle of area.circles) {
      window.L.circle(circle.center, { ...style, radius: circle.radius_km * 1000 }).addTo(group);
    }
  }
  const label = el("span", title(alert) + (fromFeed(alert) ? " ("
    + t("dashboard.from_feed", { feed: alert.source.feed || "?" }) + ")" : ""));
  group.bindTooltip(label);
  group.addTo(view.map);
  view.layers.set(alert.id, group);
}

function forget(id) {
  alerts.delete(id);
  if (view && view.layers.has(id)) { view.layers.get(id).remove(); view.layers.delete(id); }
}

function fit() {
  if (!view || fitted || !view.layers.size) return;
  const bounds = window.L.featureGroup([...view.layers.values()]).getBounds();
  if (bounds.isValid()) { view.map.fitBounds(bounds, { maxZoom: 10 }); fitted = true; }
}

function alertRow(alert) {
  const row = el("tr");
  row.dataset.id = alert.id;
  const name = el("td");
  const link = el("a", title(alert));
  link.href = "/console/alert?id=" + encodeURIComponent(alert.id);
  name.append(link);
  if (alert.status !== "Actual") {
    const mark = el("span", NOT_ACTUAL.includes(alert.status) ? t("mark." + alert.status)
      : alert.status.toUpperCase(), "exercise status-mark");
    mark.dataset.status = alert.status;
    name.append(" ", mark);
  }
  if (alert.msg_type !== "Alert") name.append(" ", el("span", alert.msg_type));
  if (fromFeed(alert)) {
    const mark = el("span", t("dashboard.from_feed", { feed: alert.source.feed || "?" }), "chip feed");
    mark.dataset.feed = alert.source.feed || "";
    name.append(" ", mark);
  }
  const state = el("td", alert.lifecycle === "pending_approval" ? t("dashboard.waiting_approval") : alert.state,
    ALERT_TONE[alert.state] || "warn");
  state.dataset.state = alert.state;
  const channels = el("td");
  for (const d of alert.deliveries) {
    const chip = el("span", d.channel + ": " + d.state + recipients(d.recipients),
      "chip " + (DELIVERY_TONE[d.state] || "warn"));
    chip.dataset.channel = d.channel;
    chip.dataset.state = d.state;
    channels.append(chip);
  }
  row.append(name, el("td", alert.severity || ""), state, channels);
  return row;
}

/* Exercise and Test in words, not colour alone: a banner at the top of the wall screen
   while any active alert is one (with how many), besides the mark on its row. */
const NOT_ACTUAL = ["Exercise", "Test"];
function markStatuses(active) {
  const banner = $("status-banner");
  const parts = NOT_ACTUAL.map((status) => [status, active.filter((a) => a.status === status).length])
    .filter(([, count]) => count).map(([status, count]) => t("dashboard.banner." + status, { count }));
  banner.hidden = !parts.length;
  banner.textContent = parts.join(" · ");
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "";
}

/* What an adapter knows of its network element (health().facts), in words. */
function factLines(facts, detail) {
  const lines = [];
  for (const [key, value] of Object.entries(facts || {})) {
    if (key === "on_air") {
      lines.push(t("dashboard.on_air", { list: value.length ? value.map((m) => m.identifier
        + (m.slot !== String(m.identifier) ? " (" + m.slot + ")" : "")
        + (m.state !== "held" ? " " + m.state : "")
        + (alerts.has(m.alert_id) ? " — " + title(alerts.get(m.alert_id)) : "")).join(", ")
        : t("dashboard.on_air_none") }));
    } else if (key === "binds_up") {
      if (!(detail || "").includes(value + " of " + facts.binds)) {
        lines.push(t("dashboard.binds_up", { up: value, binds: facts.binds }));
      }
    } else if (key === "binds") {
      continue;
    } else if (key === "push_services") {
      lines.push(...(value.length ? value.map((p) => t("dashboard.push", { host: p.host,
        outcome: p.outcome + (p.reason ? " (" + p.reason + ")" : ""), time: time(p.at) }))
        : [t("dashboard.push_none")]));
    } else if (value === null || value === "" || (detail || "").includes(String(value))) {
      continue; // nothing, or what the detail line already says
    } else {
      const label = ["cbc", "smsc", "uplink", "probe", "last_error"].includes(key)
        ? t("dashboard.fact." + key) : key;
      lines.push(label + ": " + (typeof value === "object" ? JSON.stringify(value) : value));
    }
  }
  return lines;
}

function channelItem(name, breaker, health) {
  const item = el("li", undefined, "channel");
  item.dataset.channel = name;
  const head = el("p");
  head.append(el("strong", name), " ",
    el("span", t("dashboard.breaker", { state: breaker }), "chip breaker " + (BREAKER_TONE[breaker] || "warn")));
  if (health) {
    const up = el("span", health.ok ? t("dashboard.up") : t("dashboard.down"), "chip health " + (health.ok ? "ok" : "bad"));
    up.dataset.ok = String(health.ok);
    head.append(" ", up);
  } else {
    head.append(" ", el("span", t("dashboard.checking"), "chip health warn"));
  }
  item.append(head);
  if (health) {
    const facts = el("ul", undefined, "facts");
    facts.replaceChildren(...[health.detail, ...factLines(health.facts, health.detail),
      t("dashboard.checked", { time: time(health.checked_at) })].filter(Boolean).map((line) => el("li", line)));
    item.append(facts);
  }
  return item;
}

function duration(seconds) {
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
  return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
}

/* The store's open deliveries (overview.backlog): the channels with any, longest wait
   first; "pending" counts those waiting for a retry or for their channel too. */
function backlogRows(backlog) {
  const open = Object.entries(backlog || {}).map(([name, b]) => ({ name, ...b,
    queued: (b.pending || 0) + (b.waiting_for_channel || 0) + (b.standby || 0) }))
    .filter((b) => b.queued || b.sending)
    .sort((a, b) => b.oldest_age_s - a.oldest_age_s || (a.name < b.name ? -1 : 1));
  if (!open.length) {
    const row = el("tr"); const cell = el("td", t("dashboard.nothing_waiting"), "none");
    cell.colSpan = 4; row.append(cell); return [row];
  }
  return open.map((b) => {
    const row = el("tr");
    row.dataset.channel = b.name;
    const pending = el("td", String(b.queued));
    pending.dataset.count = String(b.queued);
    row.append(el("td", b.name), pending, el("td", String(b.sending)),
      el("td", duration(b.oldest_age_s), b.oldest_age_s >= 60 ? "bad" : ""));
    return row;
  });
}

function render() {
  scheduled = false;
  const sorted = [...alerts.values()].sort((a, b) =>
    (SEVERITY_RANK[a.severity] ?? 5) - (SEVERITY_RANK[b.severity] ?? 5)
    || (a.received_at < b.received_at ? 1 : -1));
  $("alerts").replaceChildren(...sorted.map(alertRow));
  markStatuses(sorted);
  listOrNone($("approvals"), sorted.filter((a) => a.lifecycle === "pending_approval").map((a) => {
    const item = el("li"); const link = el("a", title(a));
    link.href = "/console/alert?id=" + encodeURIComponent(a.id);
    item.append(link, " — " + t("dashboard.since", { severity: a.severity || "", time: a.received_at }));
    return item;
  }));
  const failures = [];
  for (const a of sorted) {
    for (const d of a.deliveries) {
      if (d.state === "failed" || d.last_error) {
        failures.push(el("li", title(a) + " — " + d.channel + ": " + d.state + " — "
          + (d.reason || d.last_error || ""), d.state === "failed" ? "bad" : "warn"));
      }
    }
  }
  listOrNone($("failures"), failures.slice(0, 20));
  listOrNone($("ended"), ended.map((e) => el("li", e.title + " — " + (e.lifecycle || t("dashboard.gone")))));
  if (overview) {
    const totals = overview.totals;
    $("totals").textContent = t("dashboard.totals", { active: totals.accepted || 0,
      pending: totals.pending_approval || 0 })
      + (overview.shown < (totals.accepted || 0) + (totals.pending_approval || 0)
        ? " " + t("dashboard.showing", { shown: overview.shown }) : "");
    $("backlog").replaceChildren(...backlogRows(overview.backlog));
    $("channels").replaceChildren(...Object.entries(overview.channels).map(([name, state]) =>
      channelItem(name, state, (overview.health || {})[name])));
    fit();
    document.body.dataset.ready = "1";
    if (!extras) {
      // the base map beneath the areas, and the feeds' row, once the alerts are on
      // screen: the alerts never wait for them
      extras = true;
      if (view) import("/console/static/basemap.js").then((m) => m.addBaseMap(view.map));
      readFeeds();
    }
  }
}

const FEED_TONE = { ok: "ok", starting: "warn", failing: "bad" };
const FEEDS_EVERY_MS = 10000;

/* The feeds Tocsin takes other authorities' alerts from (GET /api/v1/feeds), read
   every 10 s: a feed that stops answering shows as failing with its last error. */
async function readFeeds() {
  let text = null;
  let items = [];
  try {
    const response = await fetch("/console/api/feeds", { credentials: "same-origin" });
    if (response.ok) {
      items = (await response.json()).feeds.map((f) => {
        const item = el("li", f.name + ": " + f.state
          + (f.last_success ? ", " + t("dashboard.feed_read", { time: time(f.last_success) }) : "")
          + ", " + t("dashboard.feed_counts", { new: f.counts.new, rejected: f.counts.rejected })
          + (f.state === "failing" && f.last_error ? " — " + f.last_error : ""),
        "chip " + (FEED_TONE[f.state] || "warn"));
        item.dataset.feed = f.name;
        item.dataset.state = f.state;
        return item;
      });
      if (!items.length) text = t("dashboard.no_feeds");
    } else {
      text = t("dashboard.feeds_unreadable", { problem: response.status });
    }
  } catch (error) {
    text = t("dashboard.feeds_unreadable", { problem: error.message });
  }
  $("feeds").replaceChildren(...(text ? [el("li", text, "none")] : items));
  setTimeout(readFeeds, FEEDS_EVERY_MS);
}

function later() {
  if (!scheduled) { scheduled = true; window.requestAnimationFrame(render); }
}

function connect() {
  const stream = new EventSource("/console/api/events");
  stream.addEventListener("open", () => {
    $("link-state").textContent = t("dashboard.live", { time: new Date().toLocaleTimeString() });
    for (const id of [...alerts.keys()]) forget(id); // the first batch repeats every active alert
  });
  stream.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    alerts.set(alert.id, alert);
    drawAreas(alert);
    later();
  });
  stream.addEventListener("ended", (event) => {
    const data = JSON.parse(event.data);
    const known = alerts.get(data.id);
    ended.unshift({ title: known ? title(known) : data.id, lifecycle: data.lifecycle });
    ended.length = Math.min(ended.length, 10);
    forget(data.id);
    later();
  });
  stream.addEventListener("overview", (event) => {
    overview = JSON.parse(event.data);
    $("link-state").textContent = t("dashboard.live", { time: new Date().toLocaleTimeString() });
    later();
  });
  stream.onerror = () => {
    $("link-state").textContent = t("dashboard.lost");
    stream.close();
    setTimeout(connect, 1000);
  };
}

document.addEventListener("DOMContentLoaded", async () => {
  const session = await fetch("/console/session", { credentials: "same-origin" });
  if (!session.ok) { window.location.href = "/console/"; return; }
  await loadStrings();
  initMap();
  connect();
});
