/* Tocsin operator console. Every value from the service or the operator is put into the
   page with textContent, never as HTML, so a CAP text cannot run as script. */
"use strict";

const $ = (id) => document.getElementById(id);
let csrf = null;

function say(text) { $("message").textContent = text; }

/* Exercise and Test are marked on every page in words, not colour alone: a banner that
   stays at the top of the window while the shown or composed alert is one. */
const NOT_ACTUAL = ["Exercise", "Test"];
function markStatus(status) {
  const banner = $("status-banner");
  if (!banner) return;
  const marked = NOT_ACTUAL.includes(status);
  banner.hidden = !marked;
  banner.textContent = marked ? t("banner." + status) : "";
  banner.dataset.status = marked ? status : "";
}

function fitsText(f) {
  if (f.error) return t("fits.error", { error: f.error });
  return f.fits ? t("fits.yes") : t("fits.over", { overflow: f.overflow, dropped: f.dropped.join(", ") });
}

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
    if (status === 200) { window.location.reload(); } else { say(t("msg.sign_in_refused", { problem: problemText(status, data) })); }
  });
  $("sign-out").addEventListener("click", async () => {
    await send("DELETE", "/console/session"); window.location.reload();
  });
  if (!signedIn) return;
  const list = await loadHistory();
  if (!list) return;
  const body = $("alerts");
  for (const alert of (list.items || []).reverse()) {
    const row = document.createElement("tr");
    const when = document.createElement("td"); when.textContent = alert.received_at;
    const state = document.createElement("td"); state.textContent = alert.state;
    const kind = document.createElement("td");
    const authority = document.createElement("td"); authority.textContent = alert.authority;
    if (NOT_ACTUAL.includes(alert.status)) {
      const mark = document.createElement("strong"); mark.className = "status-mark";
      mark.textContent = t("mark." + alert.status); kind.append(mark);
    } else { kind.textContent = t("status." + alert.status); }
    const cell = document.createElement("td"); const link = document.createElement("a");
    link.href = "/console/alert?id=" + encodeURIComponent(alert.id);
    link.textContent = alert.key.identifier + " (" + alert.status + ", " + alert.msg_type + ")";
    cell.append(link); row.append(when, state, kind, authority, cell); row.dataset.status = alert.status; body.append(row);
  }
}

/* History: the filter form is a plain GET form, so the filters live in the page's URL
   (?state=&authority=&event=&since=&until=, and ?cursor= for the next page) and each is
   passed to GET /api/v1/alerts. The times are typed in the browser's local time and sent
   as UTC instants. Returns the page of the list, or null after saying why not. */
const HISTORY_FILTERS = ["state", "authority", "event", "since", "until"];
async function loadHistory() {
  const shown = new URLSearchParams(window.location.search);
  const query = new URLSearchParams({ limit: /^\d+$/.test(shown.get("limit") || "") ? shown.get("limit") : "50" });
  const form = $("filters");
  for (const name of HISTORY_FILTERS) {
    const value = (shown.get(name) || "").trim();
    if (!value) continue;
    form.elements[name].value = value;
    if (name === "since" || name === "until") {
      const instant = new Date(value);
      if (Number.isNaN(instant.getTime())) continue;
      query.set(name, instant.toISOString());
    } else { query.set(name, value); }
  }
  const filtered = [...query.keys()].some((name) => name !== "limit");
  if (shown.get("cursor")) query.set("cursor", shown.get("cursor"));
  const response = await fetch("/console/api/alerts?" + query.toString());
  const list = await response.json();
  if (!response.ok) { $("history-count").textContent = problemText(response.status, list); return null; }
  $("history-count").textContent = t(filtered ? "history.count_filtered" : "history.count", { total: list.total });
  const pageLink = (id, cursor) => {
    const url = new URL(window.location.href);
    url.searchParams.delete("cursor");
    if (cursor) url.searchParams.set("cursor", cursor);
    $(id).href = url.pathname + url.search;
  };
  $("next-page").hidden = !list.next_cursor;
  if (list.next_cursor) pageLink("next-page", list.next_cursor);
  $("first-page").hidden = !shown.get("cursor");
  pageLink("first-page", null);
  return list;
}

function parsePoints(text) {
  const points = [];
  for (const pair of text.trim().split(/\s+/).filter(Boolean)) {
    const [lat, lon] = pair.split(",").map(Number);
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return null;
    points.push([lat, lon]);
  }
  return points;
}

/* CAP circle: "lat,lon radius" (km). */
function parseCircle(text) {
  const match = /^\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s+([\d.]+)\s*$/.exec(text || "");
  if (!match) return null;
  const [lat, lon, radius] = match.slice(1).map(Number);
  return [lat, lon, radius].every(Number.isFinite) ? { lat, lon, radius } : null;
}

/* A Leaflet map with the offline base map (basemap.js: outlines served by Tocsin, or the
   configured tile/WMS service) under the alert's area. */
function mapOf(element) {
  if (!window.L) { element.textContent = t("msg.no_map"); return null; }
  const map = window.L.map(element).setView([51.5, 3.8], 8);
  import("/console/static/basemap.js").then((module) => module.addBaseMap(map))
    .catch(() => { element.dataset.basemap = "missing"; });
  return { map, layer: window.L.layerGroup().addTo(map), ewss: window.L.layerGroup().addTo(map) };
}

/* The area as typed: the polygon (points so far while it is being drawn: fewer than a
   closed ring shows as a line) and the circle. The map follows the area unless the
   change came from a click on the map itself. */
function drawArea(view, polygonText, circleText, fit) {
  if (!view) return;
  const L = window.L;
  view.layer.clearLayers();
  const shapes = [];
  const points = parsePoints(polygonText) || [];
  // drawn shapes take no clicks: a click inside the area still reaches the map (a vertex)
  const style = { interactive: false };
  if (points.length >= 4) {
    const ring = L.polygon(points.slice(0, -1), view.editing ? {} : style).addTo(view.layer);
    shapes.push(ring);
    // edit mode: leaflet-geoman's vertex handles (drag one, drag a middle marker to add
    // one, right-click removes one); each edit goes back into the polygon field
    if (view.editing && ring.pm) {
      ring.pm.enable({ allowSelfIntersection: false, removeVertexOn: "contextmenu" });
      ring.on("pm:edit", () => view.onEdit(ring.getLatLngs()[0].map((p) => [p.lat, p.lng])));
    }
  }
  else if (points.length) {
    for (const point of points) L.circleMarker(point, { ...style, radius: 4 }).addTo(view.layer);
    if (points.length > 1) L.polyline(points, style).addTo(view.layer);
  }
  const circle = parseCircle(circleText);
  if (circle) shapes.push(L.circle([circle.lat, circle.lon], { ...style, radius: circle.radius * 1000 }).addTo(view.layer));
  if (fit && shapes.length) {
    const bounds = shapes[0].getBounds();
    for (const shape of shapes.slice(1)) bounds.extend(shape.getBounds());
    view.map.fitBounds(bounds);
  }
}

/* Drawing on the map is an alternative way to fill the fields, which stay the source of
   truth (and the keyboard's way in): in "polygon" mode a click adds a vertex to the
   polygon field (closed, first point repeated last, from the third point on); in
   "centre" mode it puts the circle's centre in the circle field (radius typed, 1 km by
   default). Each change is an input event on the field, so the live check sees it. */
const COORDINATE_DECIMALS = 4;
function ringText(vertices) {
  const ring = vertices.length >= 3 ? [...vertices, vertices[0]] : vertices;
  return ring.map(([lat, lon]) => lat.toFixed(COORDINATE_DECIMALS) + "," + lon.toFixed(COORDINATE_DECIMALS)).join(" ");
}

function openVertices(text) {
  const points = parsePoints(text) || [];
  const closed = points.length >= 4 && points[0][0] === points[points.length - 1][0] && points[0][1] === points[points.length - 1][1];
  return closed ? points.slice(0, -1) : points;
}

function mapDrawing(view, formElement) {
  const polygon = formElement.elements.polygon;
  const circle = formElement.elements.circle;
  const buttons = { vertex: $("map-add-vertex"), centre: $("map-set-centre"), edit: $("map-edit") };
  let mode = null;
  const put = (field, value) => { field.value = value; field.dispatchEvent(new CustomEvent("input", { bubbles: true, detail: "map" })); };
  const choose = (chosen) => {
    mode = mode === chosen ? null : chosen;
    for (const [name, button] of Object.entries(buttons)) button.setAttribute("aria-pressed", String(mode === name));
    if (!view) return;
    view.map.getContainer().dataset.mode = mode || "";
    view.editing = mode === "edit" && Boolean(window.L.PM);
    put(polygon, polygon.value); // redrawn with (or without) its vertex handles
  };
  buttons.vertex.addEventListener("click", () => choose("vertex"));
  buttons.centre.addEventListener("click", () => choose("centre"));
  buttons.edit.addEventListener("click", () => choose("edit"));
  if (view) view.onEdit = (vertices) => put(polygon, ringText(vertices));
  $("map-undo").addEventListener("click", () => put(polygon, ringText(openVertices(polygon.value).slice(0, -1))));
  if (!view) return;
  view.map.on("click", (event) => {
    const { lat, lng } = event.latlng.wrap();
    if (mode === "vertex") put(polygon, ringText([...openVertices(polygon.value), [lat, lng]]));
    if (mode === "centre") {
      const radius = (parseCircle(circle.value) || { radius: 1 }).radius;
      put(circle, lat.toFixed(COORDINATE_DECIMALS) + "," + lng.toFixed(COORDINATE_DECIMALS) + " " + radius);
    }
  });
}

/* Stored areas: the routing configuration's regions (GET /api/v1/compose-options);
   choosing one puts its outline in the polygon field (and its name in the area
   description when that is empty). */
function storedAreas(formElement, regions) {
  const choice = $("stored-area");
  regions.forEach((region, index) => {
    const option = document.createElement("option");
    option.value = String(index); option.textContent = region.name;
    choice.append(option);
  });
  choice.addEventListener("change", () => {
    const region = regions[Number(choice.value)];
    if (!region || choice.value === "") return;
    const field = formElement.elements.polygon;
    field.value = region.polygon.map(([lat, lon]) => lat + "," + lon).join(" ");
    if (!formElement.elements.area_desc.value.trim()) formElement.elements.area_desc.value = region.name;
    changed(field);
  });
}

/* Live check: the form goes (as typed, one request at a time) to POST /console/preview, which forwards it to
   POST /api/v1/alerts/preview -- the API's own validator, profile and renderer -- and
   each finding is shown next to the form field its CAP path concerns. */
let composeView = null; // the compose page's map, where the preview draws the EWSS ellipse
const FIELD_OF_TAG = {
  sender: "sender", status: "status", category: "category", urgency: "urgency",
  severity: "severity", certainty: "certainty", senderName: "sender_name",
  areaDesc: "area_desc", polygon: "polygon", area: "polygon", circle: "circle",
  geocode: "geocodes",
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
    if (!control.name) continue;
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
  for (const id of ["preview-phones", "preview-cards", "preview-ewss"]) $(id).replaceChildren();
  if (composeView) composeView.ewss.clearLayers();
  if (status !== 200 || !data || !data.variants) $("preview-audio").replaceChildren();
  if (status !== 200 || !data) { $("preview-status").textContent = t("msg.check_failed", { problem: problemText(status, data) }); return; }
  for (const f of data.findings || []) {
    const text = f.severity + ": " + f.message + " (" + f.code + ")";
    const name = fieldOf(f.location, form);
    if (name && notes[name]) {
      notes[name].textContent = (notes[name].textContent ? notes[name].textContent + " " : "") + text;
      if (f.severity === "error") $("compose").elements[name].setAttribute("aria-invalid", "true");
    } else {
      const item = document.createElement("li");
      item.className = "finding-" + f.severity; item.textContent = text + t("msg.at", { location: f.location });
      general.append(item);
    }
  }
  $("preview-status").textContent = data.valid
    ? t("msg.valid", { channels: data.planned.join(", ") || t("msg.no_channel") }) + (data.approval ? t("msg.waits", { reason: data.approval }) : "")
    : t("msg.not_valid", { count: (data.findings || []).filter((f) => f.severity === "error").length });
  if (!data.variants) return;
  for (const f of data.variants.forms) {
    const row = document.createElement("tr"); row.dataset.target = f.target;
    cell(row, f.target); cell(row, f.language);
    cell(row, f.segments === null ? f.budget : String(f.segments) + (f.alphabet ? " (" + f.alphabet + ")" : ""));
    cell(row, fitsText(f));
    cell(row, f.text);
    rows.append(row);
  }
  showChannels(data, form);
  showSpeech(data.variants.variants);
  for (const v of data.variants.variants) {
    const item = document.createElement("li");
    item.textContent = v.language + ": " + v.screen_reader_text + (v.readability ? " — " + t("readability") + " " + JSON.stringify(v.readability) : "");
    voices.append(item);
  }
}

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

/* Each channel as the person receives it, from the preview's own forms (the channel's
   code): a cell-broadcast message as a phone screen with its pages as the encoder cut
   them (the page texts read back from the encoded pages), a wallet alert as a card. */
function showChannels(data, form) {
  const phones = $("preview-phones");
  const cards = $("preview-cards");
  for (const f of data.variants.forms) {
    if (f.kind !== "channel") continue;
    if ((f.pages && f.pages.length) || (f.error && f.target.includes("broadcast"))) {
      const sms = (f.budget || "").includes("SMS"); // SMS parts, else cell-broadcast pages
      const phone = element("figure", "phone"); phone.dataset.target = f.target; phone.dataset.language = f.language;
      phone.append(element("figcaption", "", t(sms ? "preview.sms_caption" : "preview.phone_caption", { channel: f.target, language: f.language, pages: (f.pages || []).length })));
      const screen = element("ol", "phone-screen");
      screen.setAttribute("aria-label", t(sms ? "preview.sms_parts" : "preview.phone_pages", { channel: f.target, language: f.language }));
      (f.pages || []).forEach((text, index) => {
        const page = element("li", "phone-page");
        page.append(element("span", "page-number", t(sms ? "preview.part_of" : "preview.page_of", { page: index + 1, pages: f.pages.length })));
        page.append(element("span", "page-text", text));
        page.lang = f.languages.length === 1 ? f.languages[0] : "";
        screen.append(page);
      });
      if (f.error) screen.append(element("li", "finding-error", t("fits.error", { error: f.error })));
      phone.append(screen);
      phones.append(phone);
    }
    if (f.ellipse) showEllipse(f);
    else if (f.error && f.target.includes("ewss")) $("preview-ewss").append(element("li", "finding-error", t("preview.ewss_error", { channel: f.target, error: f.error })));
    if (f.target.includes("wallet")) {
      const card = element("article", "wallet-card"); card.dataset.target = f.target; card.lang = f.language;
      const heading = element("h4", "", (form["headline_" + f.language] || "").trim() || f.target);
      const status = form.status && NOT_ACTUAL.includes(form.status) ? element("strong", "status-mark", t("mark." + form.status)) : null;
      card.append(element("p", "card-sender", (form.sender_name || form.sender || "").trim()));
      if (status) card.append(status);
      card.append(heading, element("p", "card-text", f.text));
      card.append(element("p", "card-fits", f.language + " — " + fitsText(f)));
      cards.append(card);
    }
  }
}

/* The EWSS ellipse the receivers are told, decoded from the CAMF bits by the channel's
   own preview, over the CAP area on the compose map, with its over-warning ratio
   (ellipse area / alert area). */
const EWSS_STYLE = { color: "#8a3b00", weight: 3, dashArray: "8 6", fill: false, interactive: false };
function showEllipse(f) {
  const e = f.ellipse;
  const round = (value, digits) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));
  const item = element("li", e.overwarning_warning ? "finding-warning" : "", t("preview.ewss_ellipse", {
    channel: f.target, message: f.language, major: round(e.semi_major_km, 1), minor: round(e.semi_minor_km, 1),
    ellipse: round(e.ellipse_area_km2, 0), area: round(e.alert_area_km2, 0), ratio: round(e.overwarning_ratio, 2) }));
  item.dataset.ratio = String(e.overwarning_ratio);
  $("preview-ewss").append(item);
  if (composeView) window.L.polygon(e.outline, EWSS_STYLE).addTo(composeView.ewss);
}

/* The spoken text per language, made on request (espeak-ng and opusenc take a second,
   so not on every keystroke): POST /console/preview/speech?lang= with the CSRF token
   returns the Ogg Opus the speech worker would make after the post; it plays from the
   fetched bytes and is stored nowhere. */
function showSpeech(variants) {
  // a player made for the same text is kept (a click on "make" blurs the field last
  // typed in, whose change event checks the form again); a changed text drops it
  const list = $("preview-audio");
  const kept = new Map([...list.children].map((item) => [item.dataset.language + "\n" + item.dataset.spoken, item]));
  list.replaceChildren(...variants.map((v) => {
    const spoken = JSON.stringify(v.slots);
    return kept.get(v.language + "\n" + spoken) || speechItem(v.language, spoken);
  }));
}

function speechItem(language, spoken) {
  const item = element("li"); item.dataset.language = language; item.dataset.spoken = spoken;
  const button = element("button", "speak", t("preview.audio_make", { language }));
  button.type = "button";
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const response = await fetch("/console/preview/speech?lang=" + encodeURIComponent(language), {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" },
        body: JSON.stringify(formOf($("compose"))),
      });
      for (const old of item.querySelectorAll("audio, .finding-error")) old.remove();
      if (!response.ok) {
        let data = null; try { data = await response.json(); } catch (_) { data = null; }
        item.append(element("span", "finding-error", t("preview.audio_failed", { language, problem: problemText(response.status, data) })));
        return;
      }
      const audio = element("audio"); audio.controls = true;
      audio.setAttribute("aria-label", t("preview.audio_label", { language }));
      audio.src = URL.createObjectURL(await response.blob());
      item.append(audio);
    } finally { button.disabled = false; }
  });
  item.append(button);
  return item;
}

/* At most one check in flight: an edit sends the form at once when none is running;
   edits made while one runs are sent together, once, when it answers, and an answer
   overtaken by later typing is not shown. So a pause shows the preview after one round
   trip, and fast typing never queues more than one request. */
function liveCheck(formElement, notes) {
  let running = false;
  let again = false;
  const check = async () => {
    if (running) { again = true; return; }
    running = true;
    try {
      do {
        again = false;
        const form = formOf(formElement);
        const { status, data } = await send("POST", "/console/preview", form);
        if (!again) showPreview(notes, form, status, data);
      } while (again);
    } finally { running = false; }
  };
  formElement.addEventListener("input", check);
  formElement.addEventListener("change", check);
  check();
  return check;
}

function formOf(formElement) { return Object.fromEntries(new FormData(formElement).entries()); }

function changed(control) {
  control.dispatchEvent(new Event("input", { bubbles: true }));
}

/* The event list and the verified instruction templates (GET /api/v1/compose-options):
   the profile's allowed events if it restricts them (then the event fields take only a
   choice from the list), else the template library's hazards with free text still
   possible. A template is inserted as text (input value), never as HTML. */
async function composeOptions(formElement) {
  const response = await fetch("/console/api/compose-options");
  if (!response.ok) return;
  const options = await response.json();
  storedAreas(formElement, options.regions || []);
  const choice = $("event-choice");
  options.events.forEach((event, index) => {
    const option = document.createElement("option");
    option.value = String(index);
    const names = [event.text.nl, event.text.en].filter(Boolean);
    option.textContent = names.length ? names.join(" / ") : event.value;
    choice.append(option);
  });
  choice.addEventListener("change", () => {
    const event = options.events[Number(choice.value)];
    if (!event || choice.value === "") return;
    for (const language of COMPOSE_LANGUAGES) {
      const field = formElement.elements["event_" + language];
      field.value = event.text[language.split("-")[0]] || event.value;
      changed(field);
    }
  });
  if (!options.free_text) {
    for (const language of COMPOSE_LANGUAGES) formElement.elements["event_" + language].readOnly = true;
    const note = document.createElement("p"); note.id = "event-fixed"; note.textContent = t("compose.event_fixed");
    choice.after(note); choice.setAttribute("aria-describedby", note.id);
  }
  for (const language of COMPOSE_LANGUAGES) {
    const holder = $("templates-" + language);
    const primary = language.split("-")[0];
    for (const template of options.instructions) {
      const text = template.text[primary];
      if (!text) continue;
      const button = document.createElement("button");
      button.type = "button"; button.className = "template"; button.textContent = text;
      button.dataset.codes = template.codes.join(" ");
      button.addEventListener("click", () => {
        const field = formElement.elements["instruction_" + language];
        const current = field.value.trim();
        field.value = current ? current + " " + text : text;
        changed(field);
        field.focus();
      });
      holder.append(button);
    }
  }
}

/* Drafts: the form saved durably through /api/v1/drafts (its principal's only), on
   "Save draft" and 2 s after the last change; reopened from the list or ?draft=<id>.
   A draft is never submitted: only "Submit" posts an alert. */
function drafts(formElement, refresh) {
  let current = new URLSearchParams(window.location.search).get("draft");
  let queue = Promise.resolve();
  let timer = null;
  const status = (text) => { $("draft-status").textContent = text; };
  const titleOf = (form) => (form["headline_nl-NL"] || form["headline_en-GB"] || "").trim().slice(0, 200);
  function remember(id) {
    current = id;
    const url = new URL(window.location.href);
    url.searchParams.set("draft", id);
    window.history.replaceState(null, "", url.pathname + url.search);
    languageLinks();
  }
  async function list() {
    const response = await fetch("/console/api/drafts");
    const holder = $("drafts"); holder.replaceChildren();
    if (!response.ok) return;
    const items = (await response.json()).items;
    if (!items.length) { const none = document.createElement("li"); none.textContent = t("drafts.none"); holder.append(none); }
    for (const draft of items) {
      const item = document.createElement("li"); item.dataset.id = draft.id;
      const title = draft.title || t("drafts.untitled");
      const open = document.createElement("button"); open.type = "button"; open.className = "draft-open";
      open.textContent = t("drafts.open", { title }) + " (" + draft.updated_at + ")";
      open.addEventListener("click", () => load(draft.id));
      const remove = document.createElement("button"); remove.type = "button"; remove.className = "draft-delete";
      remove.textContent = t("drafts.delete", { title });
      remove.addEventListener("click", async () => {
        await send("DELETE", "/console/drafts/" + encodeURIComponent(draft.id));
        if (current === draft.id) current = null;
        await list();
      });
      item.append(open, " ", remove); holder.append(item);
    }
  }
  async function load(id) {
    const response = await fetch("/console/api/drafts/" + encodeURIComponent(id));
    if (!response.ok) { status(t("drafts.save_failed", { problem: response.status })); return; }
    const draft = await response.json();
    for (const control of formElement.elements) {
      if (control.name && Object.prototype.hasOwnProperty.call(draft.form, control.name)) control.value = draft.form[control.name];
    }
    remember(draft.id);
    status(t("drafts.opened", { title: draft.title || t("drafts.untitled") }));
    refresh();
  }
  function save() {
    queue = queue.then(async () => {
      const form = formOf(formElement);
      const body = { title: titleOf(form), form };
      const { status: code, data } = current
        ? await send("PUT", "/console/drafts/" + encodeURIComponent(current), body)
        : await send("POST", "/console/drafts", body);
      if ((code === 200 || code === 201) && data && data.id) {
        remember(data.id);
        status(t("drafts.saved", { time: new Date().toLocaleTimeString(document.documentElement.lang) }));
        await list();
      } else {
        status(t("drafts.save_failed", { problem: problemText(code, data) }));
      }
    }).catch((error) => status(t("drafts.save_failed", { problem: String(error) })));
    return queue;
  }
  const autosave = () => { clearTimeout(timer); timer = setTimeout(save, 2000); };
  formElement.addEventListener("input", autosave);
  formElement.addEventListener("change", autosave);
  $("save-draft").addEventListener("click", () => { clearTimeout(timer); save(); });
  return {
    start: async () => { await list(); if (current) await load(current); },
    done: async () => {
      clearTimeout(timer); await queue;
      if (current) await send("DELETE", "/console/drafts/" + encodeURIComponent(current));
    },
  };
}

/* Deliveries an operator may send again (the API's retry takes failed and expired ones). */
const RETRYABLE = ["failed", "expired"];

/* "Update this alert": the compose form filled from the stored CAP of the alert it
   updates (texts put in with .value, never as HTML); the form then posts an Update that
   references it (update_of, resolved by the service with the session's key). */
async function prefillUpdate(formElement, alertId) {
  const response = await fetch("/console/api/alerts/" + encodeURIComponent(alertId) + "/cap");
  if (!response.ok) { say(problemText(response.status, null)); return; }
  const cap = new DOMParser().parseFromString(await response.text(), "application/xml");
  const root = cap.documentElement;
  const ns = root.namespaceURI;
  const text = (parent, tag) => {
    const found = parent.getElementsByTagNameNS(ns, tag)[0];
    return found ? found.textContent.trim() : "";
  };
  const set = (name, value) => { const field = formElement.elements.namedItem(name); if (field && value) field.value = value; };
  set("status", text(root, "status"));
  set("sender", text(root, "sender"));
  const infos = [...root.getElementsByTagNameNS(ns, "info")];
  const blocks = [...formElement.querySelectorAll("fieldset[data-language]")].map((f) => f.dataset.language);
  for (const info of infos) {
    const primary = (text(info, "language") || "en-US").split("-")[0].toLowerCase();
    const language = blocks.find((b) => b.split("-")[0].toLowerCase() === primary);
    if (!language) continue;
    for (const [field, tag] of [["event", "event"], ["headline", "headline"], ["description", "description"], ["instruction", "instruction"]]) {
      set(field + "_" + language, text(info, tag));
    }
  }
  if (infos.length) {
    const first = infos[0];
    for (const tag of ["category", "urgency", "severity", "certainty"]) set(tag, text(first, tag));
    set("sender_name", text(first, "senderName"));
    set("area_desc", text(first, "areaDesc"));
    set("polygon", text(first, "polygon"));
    const area = first.getElementsByTagNameNS(ns, "area")[0];
    if (area) {
      set("geocodes", [...area.getElementsByTagNameNS(ns, "geocode")]
        .map((g) => text(g, "valueName") + "=" + text(g, "value")).join("\n"));
    }
    set("circle", text(first, "circle"));
  }
  $("update_of").value = alertId;
  const notice = $("update-notice");
  notice.textContent = t("compose.updating", { id: alertId }); notice.hidden = false;
}

async function pageCompose() {
  if (!(await session())) { window.location.href = "/console/"; return; }
  const formElement = $("compose");
  const view = mapOf($("map"));
  const redraw = (event) => drawArea(view, $("polygon").value, $("circle").value, !(event && event.detail === "map"));
  $("polygon").addEventListener("input", redraw);
  $("circle").addEventListener("input", redraw);
  mapDrawing(view, formElement);
  const showStatus = () => markStatus($("status").value);
  $("status").addEventListener("change", showStatus);
  $("status").addEventListener("input", showStatus);
  const notes = fieldNotes(formElement);
  await composeOptions(formElement);
  const updateOf = new URLSearchParams(window.location.search).get("update");
  if (updateOf) await prefillUpdate(formElement, updateOf);
  const check = liveCheck(formElement, notes);
  const saved = drafts(formElement, () => { showStatus(); redraw(); check(); });
  composeView = view;
  redraw(); showStatus();
  await saved.start();
  formElement.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { status, data } = await send("POST", "/console/compose", formOf(formElement));
    showFindings(data);
    if ((status === 202 || status === 200) && data && data.id) {
      await saved.done();
      window.location.href = "/console/alert?id=" + encodeURIComponent(data.id);
    } else {
      say(t("msg.not_accepted", { problem: problemText(status, data) }));
    }
  });
  $("submit").disabled = false; // not before its handler: the browser would submit the form itself
  document.body.dataset.ready = "1"; // every handler is in place (tests and the bench wait for it)
}

/* The texts of a CAP document per info language: headline, description, instruction and
   the areas (each areaDesc with its polygons, circles and geocodes, as CAP writes them). */
const CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2";
const DIFF_FIELDS = ["headline", "description", "instruction", "area"];
async function capTexts(alertId) {
  const response = await fetch("/console/api/alerts/" + encodeURIComponent(alertId) + "/cap");
  if (!response.ok) return null;
  const cap = new DOMParser().parseFromString(await response.text(), "application/xml");
  const children = (parent, tag) => [...parent.getElementsByTagNameNS(CAP_NS, tag)];
  const text = (parent, tag) => children(parent, tag).map((e) => e.textContent.trim()).join("\n");
  const texts = new Map();
  for (const info of children(cap.documentElement, "info")) {
    const areas = children(info, "area").map((area) => [
      text(area, "areaDesc"),
      ...children(area, "polygon").map((p) => t("diff.polygon", { points: p.textContent.trim() })),
      ...children(area, "circle").map((c) => t("diff.circle", { circle: c.textContent.trim() })),
      ...children(area, "geocode").map((g) => text(g, "valueName") + "=" + text(g, "value")),
    ].filter(Boolean).join("; "));
    texts.set(text(info, "language") || "en-US", {
      headline: text(info, "headline"), description: text(info, "description"),
      instruction: text(info, "instruction"), area: areas.join("\n"),
    });
  }
  return { cap, texts };
}

/* An Update beside the alert it updates: per language and field the old and the new text,
   and the change said in words (changed, unchanged, added, removed), not by colour. */
function showDiff(before, after) {
  const rows = $("diff"); rows.replaceChildren();
  $("diff-of").textContent = t("diff.of", { id: before.id });
  const languages = [...new Set([...before.texts.keys(), ...after.keys()])];
  for (const language of languages) {
    const old = before.texts.get(language);
    const now = after.get(language);
    for (const field of DIFF_FIELDS) {
      const was = old ? old[field] : "";
      const is = now ? now[field] : "";
      if (!was && !is) continue;
      const change = was === is ? "unchanged" : !was ? "added" : !is ? "removed" : "changed";
      const row = document.createElement("tr");
      row.dataset.language = language; row.dataset.field = field; row.dataset.change = change;
      cell(row, language);
      const name = document.createElement("th"); name.scope = "row"; name.textContent = t("diff.field." + field); row.append(name);
      cell(row, was); cell(row, is);
      const mark = document.createElement("td");
      if (change === "unchanged") { mark.textContent = t("diff.unchanged"); } else {
        const strong = document.createElement("strong"); strong.textContent = t("diff." + change); mark.append(strong);
      }
      row.append(mark); rows.append(row);
    }
  }
  $("diff-section").hidden = false;
}

async function pageAlert() {
  if (!(await session())) { window.location.href = "/console/"; return; }
  const id = new URLSearchParams(window.location.search).get("id");
  $("alert-id").textContent = id;
  $("cap-link").href = "/console/api/alerts/" + encodeURIComponent(id) + "/cap";
  let stream = null;
  async function refresh() {
    const response = await fetch("/console/api/alerts/" + encodeURIComponent(id));
    const alert = await response.json();
    if (!response.ok) { say(problemText(response.status, alert)); return null; }
    $("alert-state").textContent = alert.state + " (" + alert.status + ", " + alert.msg_type + ")";
    markStatus(alert.status);
    const rows = $("deliveries"); rows.replaceChildren();
    for (const d of alert.deliveries) {
      const row = document.createElement("tr");
      // subscriber channels (SMS, wallet) report their recipients per outcome
      const reach = d.recipients ? Object.entries(d.recipients).map(([k, v]) => k + " " + v).join(", ") : "";
      for (const value of [d.channel, d.state, d.reason || "", reach]) {
        const cell = document.createElement("td"); cell.textContent = value; row.append(cell);
      }
      const action = document.createElement("td");
      if (RETRYABLE.includes(d.state) && alert.lifecycle === "accepted") {
        const button = document.createElement("button");
        button.type = "button"; button.textContent = t("alert.retry");
        button.setAttribute("aria-label", t("alert.retry_channel", { channel: d.channel }));
        button.addEventListener("click", () => retry(d.channel));
        action.append(button);
      }
      row.append(action);
      row.dataset.channel = d.channel; rows.append(row);
    }
    $("decision").hidden = alert.lifecycle !== "pending_approval";
    $("cancel").hidden = alert.msg_type !== "Alert" || alert.lifecycle !== "accepted";
    $("update").hidden = !["Alert", "Update"].includes(alert.msg_type) || alert.lifecycle !== "accepted";
    $("update").href = "/console/compose?update=" + encodeURIComponent(id);
    // in the state line, not the message line: that keeps the result of the operator's
    // own last act ("Cancel submitted"), which a refresh must not overwrite
    if (alert.cancelled_by) $("alert-state").textContent += " — " + t("msg.cancelled_by", { id: alert.cancelled_by });
    await auditTrail();
    await diff(alert);
    return alert;
  }
  let own = null;
  async function headline() {
    own = await capTexts(id);
    if (!own) return;
    const first = own.cap.getElementsByTagNameNS(CAP_NS, "headline")[0];
    $("alert-headline").textContent = first ? first.textContent : "";
  }
  let diffShown = false;
  async function diff(alert) {
    if (diffShown || !own || alert.msg_type !== "Update") return;
    const updated = (alert.references || []).filter((r) => r.alert_id).pop();
    if (!updated) return;
    const before = await capTexts(updated.alert_id);
    if (!before) return;
    diffShown = true;
    showDiff({ id: updated.alert_id, texts: before.texts }, own.texts);
  }
  async function forms() {
    const response = await fetch("/console/api/alerts/" + encodeURIComponent(id) + "/variants");
    if (!response.ok) return;
    const rows = $("forms"); rows.replaceChildren();
    for (const f of (await response.json()).forms) {
      const row = document.createElement("tr");
      const fits = fitsText(f);
      for (const value of [f.target, f.language, f.segments === null ? "" : String(f.segments), fits, f.text]) {
        const cell = document.createElement("td"); cell.textContent = value; row.append(cell);
      }
      row.dataset.target = f.target; rows.append(row);
    }
  }
  /* The entries of the audit trail whose subject is this alert (GET /api/v1/audit?subject=,
     which needs the admin role: without it the page says so). Text only. */
  async function auditTrail() {
    const response = await fetch("/console/api/audit?limit=500&subject=" + encodeURIComponent(id));
    const rows = $("audit");
    if (!response.ok) {
      rows.replaceChildren();
      $("audit-status").textContent = response.status === 403 ? t("audit.needs_admin") : problemText(response.status, null);
      return;
    }
    const trail = await response.json();
    $("audit-status").textContent = t("audit.count", { total: trail.total });
    rows.replaceChildren();
    for (const entry of trail.items) {
      const row = document.createElement("tr");
      const p = entry.principal || {};
      const who = [p.actor, p.key, p.authority].filter(Boolean).join(" / ") || p.via || "";
      for (const value of [entry.at, entry.kind, who]) cell(row, value);
      row.dataset.kind = entry.kind; rows.append(row);
    }
  }
  function follow() {
    stream = new EventSource("/console/api/alerts/" + encodeURIComponent(id) + "/events");
    for (const name of ["delivery", "alert", "done"]) stream.addEventListener(name, refresh);
    stream.onerror = () => { stream.close(); setTimeout(follow, 1000); };
  }
  async function retry(channel) {
    const { status, data } = await send("POST", "/console/alerts/" + encodeURIComponent(id) +
      "/deliveries/" + encodeURIComponent(channel) + "/retry", {});
    showFindings(data);
    say(status < 300 ? t("msg.retry_planned", { channel })
      : t("msg.refused", { action: t("action.retry"), problem: problemText(status, data) }));
    await refresh();
  }
  async function act(path, body) {
    const { status, data } = await send("POST", "/console/alerts/" + encodeURIComponent(id) + path, body);
    showFindings(data);
    const action = t("action." + path.slice(1));
    say(status < 300 ? t("msg.done", { action }) : t("msg.refused", { action, problem: problemText(status, data) }));
    await refresh();
    return data;
  }
  $("approve").addEventListener("click", () => act("/approve", {}));
  $("reject").addEventListener("click", () => act("/reject", { reason: $("reject-reason").value }));
  $("cancel").addEventListener("click", async () => {
    const data = await act("/cancel");
    if (data && data.id) say(t("msg.cancel_submitted", { id: data.id }));
  });
  await headline();
  await forms();
  await refresh();
  follow();
}

const pages = { index: pageIndex, compose: pageCompose, alert: pageAlert };
document.addEventListener("DOMContentLoaded", () => {
  loadStrings().then(() => pages[document.body.dataset.page]())
    .catch((error) => say(t("msg.error", { error })));
});
