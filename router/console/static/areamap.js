/* The alert page's map: the alert's areas (every <polygon> and <circle> of its CAP, as
   stored) over the offline base map (basemap.js). A module of its own, so the page's
   follow and decision code (console.js) is not involved; values are read from the CAP
   as numbers, never put into the page as HTML. */
import { addBaseMap } from "/console/static/basemap.js";

const CAP = "urn:oasis:names:tc:emergency:cap:1.2";

function pairs(text) {
  return text.trim().split(/\s+/).map((pair) => pair.split(",").map(Number))
    .filter(([lat, lon]) => Number.isFinite(lat) && Number.isFinite(lon));
}

async function draw() {
  const element = document.getElementById("alert-map");
  const id = new URLSearchParams(window.location.search).get("id");
  if (!element || !id || !window.L) return;
  const L = window.L;
  const map = L.map(element).setView([52.2, 5.3], 7);
  await addBaseMap(map);
  const response = await fetch("/console/api/alerts/" + encodeURIComponent(id) + "/cap", { credentials: "same-origin" });
  if (!response.ok) return;
  const cap = new DOMParser().parseFromString(await response.text(), "application/xml");
  const shapes = [];
  for (const polygon of cap.getElementsByTagNameNS(CAP, "polygon")) {
    const ring = pairs(polygon.textContent);
    if (ring.length >= 4) shapes.push(L.polygon(ring, { interactive: false }).addTo(map));
  }
  for (const circle of cap.getElementsByTagNameNS(CAP, "circle")) {
    const [centre, radius] = circle.textContent.trim().split(/\s+/);
    const [point] = pairs(centre || "");
    if (point && Number.isFinite(Number(radius))) shapes.push(L.circle(point, { radius: Number(radius) * 1000, interactive: false }).addTo(map));
  }
  if (shapes.length) {
    const bounds = shapes[0].getBounds();
    for (const shape of shapes.slice(1)) bounds.extend(shape.getBounds());
    map.fitBounds(bounds);
  }
  element.dataset.areas = String(shapes.length);
}

/* Drawn once the page shows the alert's deliveries (or after 2 s): the outlines are
   0.8 MB to read, and the operator's first look is at the alert's state. */
function afterDeliveries(start) {
  const rows = document.getElementById("deliveries");
  let started = false;
  const go = () => { if (!started) { started = true; observer.disconnect(); start(); } };
  const observer = new MutationObserver(go);
  if (rows) observer.observe(rows, { childList: true });
  setTimeout(go, 2000);
}

document.addEventListener("DOMContentLoaded", () => afterDeliveries(() => { draw().catch(() => {}); }));
