/* The console's UI strings, shared by every page (console.js, dashboard.js): one table
   per language (static/i18n/<lang>.json); the service sets <html lang> from ?lang=, the
   console's cookie or Accept-Language. Loaded before the page's own script. */
"use strict";

let strings = {};

function t(key, values) {
  let text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  for (const [name, value] of Object.entries(values || {})) text = text.split("{" + name + "}").join(String(value));
  return text;
}

async function loadStrings() {
  const language = document.documentElement.lang || "en";
  const response = await fetch("/console/static/i18n/" + encodeURIComponent(language) + ".json");
  strings = response.ok ? await response.json() : {};
  for (const element of document.querySelectorAll("[data-i18n]")) {
    if (strings[element.dataset.i18n] !== undefined) element.textContent = strings[element.dataset.i18n];
  }
  for (const element of document.querySelectorAll("[data-i18n-aria]")) {
    if (strings[element.dataset.i18nAria] !== undefined) element.setAttribute("aria-label", strings[element.dataset.i18nAria]);
  }
  languageLinks();
}

/* The language links keep the page's own query (?id=, ?draft=) and add ?lang=. */
function languageLinks() {
  for (const link of document.querySelectorAll("a[data-lang]")) {
    const url = new URL(window.location.href);
    url.searchParams.set("lang", link.dataset.lang);
    link.href = url.pathname + url.search;
    if (link.dataset.lang === document.documentElement.lang) link.setAttribute("aria-current", "true");
  }
}
