/* Tocsin operator console. Every value from the service or the operator is put into the
   page with textContent, never as HTML, so a CAP text cannot run as script. */
"use strict";

const $ = (id) => document.getElementById(id);
let csrf = null;

function say(text) { $("message").textContent = text; }

function showFindings(body) {
  const list = $("findings");
  if (!list) return;
  list.replaceChildren();
  for (const f of [...((body && body.findings) || []), ...((body && body.warnings) || [])]) {
    const item = document.createElement("li");
    item.className = "finding-" + (f.severity || "info");
    item.textContent = [f.severity, f.code, f.location, f.message].filter(Boolean).join(" — ");
    list.append(item);
  }
}

async function session() {
  const response = await fetch("/console/session", { credentials: "same-origin" });
  if (!response.ok) return false;
  csrf = (await response.json()).csrf;
  return true;
}

async function send(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  return { status: response.status, data };
}

function problemText(status, data) {
  return status + " " + ((data && (data.title || data.detail)) || "");
}

async function pageIndex() {
  const signedIn = await session();
  $("sign-in-section").hidden = signedIn;
  $("alerts-section").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  $("sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { status, data } = await send("POST", "/console/session", { api_key: $("api-key").value });
    if (status === 200) { window.location.reload(); } else { say("Sign-in refused: " + problemText(status, data)); }
  });
  $("sign-out").addEventListener("click", async () => {
    await send("DELETE", "/console/session"); window.location.reload();
  });
  if (!signedIn) return;
  const response = await fetch("/console/api/alerts?limit=50");
  const list = await response.json();
  const body = $("alerts");
  for (const alert of (list.items || []).reverse()) {
    const row = document.createElement("tr");
    const when = document.createElement("td"); when.textContent = alert.received_at;
    const state = document.createElement("td"); state.textContent = alert.state;
    const cell = document.createElement("td"); const link = document.createElement("a");
    link.href = "/console/alert?id=" + encodeURIComponent(alert.id);
    link.textContent = alert.key.identifier + " (" + alert.status + ", " + alert.msg_type + ")";
    cell.append(link); row.append(when, state, cell); body.append(row);
  }
}

function parsePolygon(text) {
  const points = [];
  for (const pair of text.trim().split(/\s+/)) {
    const [lat, lon] = pair.split(",").map(Number);
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
    points.push([lat, lon]);
  }
  return points.length >= 4 ? points : null;
}

function mapOf(element) {
  if (!window.L) { element.textContent = "Map library not installed (run npm ci)."; return null; }
  const map = window.L.map(element).setView([51.5, 3.8], 8);
  return { map, layer: window.L.layerGroup().addTo(map) };
}

function drawPolygon(view, points) {
  if (!view) return;
  view.layer.clearLayers();
  if (!points) return;
  const shape = window.L.polygon(points).addTo(view.layer);
  view.map.fitBounds(shape.getBounds());
}

/* Live check: the form goes (debounced) to POST /console/preview, which forwards it to
   POST /api/v1/alerts/preview -- the API's own validator, profile and renderer -- and
   each finding is shown next to the form field its CAP path concerns. */
const FIELD_OF_TAG = {
  sender: "sender", status: "status", category: "category", urgency: "urgency",
  severity: "severity", certainty: "certainty", senderName: "sender_name",
  areaDesc: "area_desc", polygon: "polygon", area: "polygon", circle: "polygon",
};
const PER_LANGUAGE = ["event", "headline", "description", "instruction"];
const COMPOSE_LANGUAGES = ["nl-NL", "en-GB"];

function fieldOf(location, form) {
  // "/alert/info[2]/headline" -> "headline_en-GB" when en-GB is the second filled block
  const steps = String(location || "").split("/").filter(Boolean);
  const filled = COMPOSE_LANGUAGES.filter((l) => (form["headline_" + l] || "").trim());
  let language = filled[0];
  for (const step of steps) {
    const match = /^info\[(\d+)\]$/.exec(step);
    if (match) language = filled[Math.max(0, Number(match[1]) - 1)] || language;
  }
  for (const step of steps.slice().reverse()) {
    const tag = step.replace(/\[.*$/, "").replace(/\s.*$/, "");
    if (PER_LANGUAGE.includes(tag) && language) return tag + "_" + language;
    if (FIELD_OF_TAG[tag]) return FIELD_OF_TAG[tag];
  }
  return null;
}

function fieldNotes(formElement) {
  const notes = {};
  for (const control of formElement.querySelectorAll("input, select, textarea")) {
    const note = document.createElement("span");
    note.id = "finding-" + control.name;
    note.className = "field-finding";
    note.setAttribute("aria-live", "polite");
    control.after(note);
    control.setAttribute("aria-describedby", note.id);
    notes[control.name] = note;
  }
  return notes;
}

function cell(row, text) {
  const td = document.createElement("td"); td.textContent = text; row.append(td);
}

function showPreview(notes, form, status, data) {
  for (const note of Object.values(notes)) note.textContent = "";
  for (const control of $("compose").querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  const general = $("general-findings"); general.replaceChildren();
  const rows = $("preview-forms"); rows.replaceChildren();
  const voices = $("preview-variants"); voices.replaceChildren();
  if (status !== 200 || !data) { $("preview-status").textContent = "Check failed: " + problemText(status, data); return; }
  for (const f of data.findings || []) {
    const text = f.severity + ": " + f.message + " (" + f.code + ")";
    const name = fieldOf(f.location, form);
    if (name && notes[name]) {
      notes[name].textContent = (notes[name].textContent ? notes[name].textContent + " " : "") + text;
      if (f.severity === "error") $("compose").elements[name].setAttribute("aria-invalid", "true");
    } else {
      const item = document.createElement("li");
      item.className = "finding-" + f.severity; item.textContent = text + " at " + f.location;
      general.append(item);
    }
  }
  $("preview-status").textContent = data.valid
    ? "Valid: would go to " + (data.planned.join(", ") || "no channel") + (data.approval ? "; waits for approval (" + data.approval + ")" : "")
    : "Not valid yet: " + (data.findings || []).filter((f) => f.severity === "error").length + " error(s)";
  if (!data.variants) return;
  for (const f of data.variants.forms) {
    const row = document.createElement("tr"); row.dataset.target = f.target;
    cell(row, f.target); cell(row, f.language);
    cell(row, f.segments === null ? f.budget : String(f.segments) + (f.alphabet ? " (" + f.alphabet + ")" : ""));
    cell(row, f.error ? "no: " + f.error : (f.fits ? "yes" : "no, " + f.overflow + " over; dropped: " + f.dropped.join(", ")));
    cell(row, f.text);
    rows.append(row);
  }
  for (const v of data.variants.variants) {
    const item = document.createElement("li");
    item.textContent = v.language + ": " + v.screen_reader_text + (v.readability ? " — readability " + JSON.stringify(v.readability) : "");
    voices.append(item);
  }
}

function liveCheck(formElement, notes) {
  let timer = null;
  let latest = 0;
  const check = async () => {
    const ticket = ++latest;
    const form = Object.fromEntries(new FormData(formElement).entries());
    const { status, data } = await send("POST", "/console/preview", form);
    if (ticket === latest) showPreview(notes, form, status, data); // drop answers overtaken by typing
  };
  const schedule = () => { clearTimeout(timer); timer = setTimeout(check, 300); };
  formElement.addEventListener("input", schedule);
  formElement.addEventListener("change", schedule);
  check();
}

async function pageCompose() {
  if (!(await session())) { window.location.href = "/console/"; return; }
  const view = mapOf($("map"));
  const redraw = () => drawPolygon(view, parsePolygon($("polygon").value));
  $("polygon").addEventListener("input", redraw);
  redraw();
  liveCheck($("compose"), fieldNotes($("compose")));
  $("compose").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = Object.fromEntries(new FormData($("compose")).entries());
    const { status, data } = await send("POST", "/console/compose", form);
    showFindings(data);
    if ((status === 202 || status === 200) && data && data.id) {
      window.location.href = "/console/alert?id=" + encodeURIComponent(data.id);
    } else {
      say("Not accepted: " + problemText(status, data));
    }
  });
}

async function pageAlert() {
  if (!(await session())) { window.location.href = "/console/"; return; }
  const id = new URLSearchParams(window.location.search).get("id");
  $("alert-id").textContent = id;
  let stream = null;
  async function refresh() {
    const response = await fetch("/console/api/alerts/" + encodeURIComponent(id));
    const alert = await response.json();
    if (!response.ok) { say(problemText(response.status, alert)); return null; }
    $("alert-state").textContent = alert.state + " (" + alert.status + ", " + alert.msg_type + ")";
    const rows = $("deliveries"); rows.replaceChildren();
    for (const d of alert.deliveries) {
      const row = document.createElement("tr");
      for (const value of [d.channel, d.state, d.reason || ""]) {
        const cell = document.createElement("td"); cell.textContent = value; row.append(cell);
      }
      row.dataset.channel = d.channel; rows.append(row);
    }
    $("decision").hidden = alert.lifecycle !== "pending_approval";
    $("cancel").hidden = alert.msg_type !== "Alert" || alert.lifecycle !== "accepted";
    if (alert.cancelled_by) say("Cancelled by " + alert.cancelled_by);
    return alert;
  }
  async function headline() {
    const response = await fetch("/console/api/alerts/" + encodeURIComponent(id) + "/cap");
    if (!response.ok) return;
    const cap = new DOMParser().parseFromString(await response.text(), "application/xml");
    const first = cap.getElementsByTagNameNS("urn:oasis:names:tc:emergency:cap:1.2", "headline")[0];
    $("alert-headline").textContent = first ? first.textContent : "";
  }
  async function forms() {
    const response = await fetch("/console/api/alerts/" + encodeURIComponent(id) + "/variants");
    if (!response.ok) return;
    const rows = $("forms"); rows.replaceChildren();
    for (const f of (await response.json()).forms) {
      const row = document.createElement("tr");
      const fits = f.error ? "no: " + f.error : (f.fits ? "yes" : "no, " + f.overflow + " over; dropped: " + f.dropped.join(", "));
      for (const value of [f.target, f.language, f.segments === null ? "" : String(f.segments), fits, f.text]) {
        const cell = document.createElement("td"); cell.textContent = value; row.append(cell);
      }
      row.dataset.target = f.target; rows.append(row);
    }
  }
  function follow() {
    stream = new EventSource("/console/api/alerts/" + encodeURIComponent(id) + "/events");
    for (const name of ["delivery", "alert", "done"]) stream.addEventListener(name, refresh);
    stream.onerror = () => { stream.close(); setTimeout(follow, 1000); };
  }
  async function act(path, body) {
    const { status, data } = await send("POST", "/console/alerts/" + encodeURIComponent(id) + path, body);
    showFindings(data);
    say(status < 300 ? path.slice(1) + ": done" : path.slice(1) + " refused: " + problemText(status, data));
    await refresh();
    return data;
  }
  $("approve").addEventListener("click", () => act("/approve", {}));
  $("reject").addEventListener("click", () => act("/reject", { reason: $("reject-reason").value }));
  $("cancel").addEventListener("click", async () => {
    const data = await act("/cancel");
    if (data && data.id) say("Cancel submitted: " + data.id);
  });
  await headline();
  await forms();
  await refresh();
  follow();
}

const pages = { index: pageIndex, compose: pageCompose, alert: pageAlert };
document.addEventListener("DOMContentLoaded", () => {
  pages[document.body.dataset.page]().catch((error) => say("Error: " + error));
});
