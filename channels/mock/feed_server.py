"""A mock CAP feed server: a directory of CAP files served as an Atom 1.0 index, with
faults on fixed paths, so feed ingest is tested against a real HTTP process.

Routes (the directory is re-read on every request, so adding a file publishes it):

- ``GET /feed.atom``: one entry per ``*.xml``/``*.cap`` file, newest ``<sent>`` first,
  linking to ``/cap/{name}`` (``type="application/cap+xml"``); a strong ``ETag`` and
  ``Last-Modified`` from the files, ``304`` to a matching ``If-None-Match`` or
  ``If-Modified-Since``;
- ``GET /inline.atom``: the same entries with the CAP documents inline in ``<content>``;
- ``GET /cap/{name}``: the file's bytes;
- faults: ``/fault/500.atom`` (always 500), ``/fault/slow.atom`` (the feed after
  ``?delay=`` seconds, default 30), ``/fault/truncated.atom`` (the feed cut in half),
  ``/fault/wrong-encoding.atom`` (declares UTF-8, the feed's title in Latin-1 bytes),
  ``/fault/wrong-encoding-entry.atom`` (the same, in the first entry's title only),
  ``/fault/huge.atom`` (50 MiB streamed), ``/fault/bomb.atom`` (billion laughs),
  ``/fault/redirect-loop.atom`` (302 to itself), ``/fault/html`` (an HTML page).

``GET /stats`` (also ``GET /_mock/received``) answers how many requests each path had,
how many were 304, and ``cap:max-in-flight``, the most ``/cap/`` requests it was serving
at once (what a client's concurrency limit shows as). ``PUT /_mock/faults`` takes the
shared faults (``channels.mock.faults``: fail, slow, drop, redirect) for the feeds and
documents above; ``GET /_mock/health`` is 200.

Run: ``python -m channels.mock.feed_server --dir DIR --port PORT``, or as an element of
``tocsin mock-channels`` / ``tocsin serve --demo`` (``channels.mock.demo.FEED_SERVER``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from aiohttp import web
from lxml import etree

from channels.mock.faults import FaultInjector, add_control_routes

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
HUGE_BYTES = 50 << 20
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol3;</title></feed>"""
STATS = web.AppKey("stats", dict[str, int])
DIRECTORY = web.AppKey("directory", Path)
FAULT = web.AppKey("faults", FaultInjector)
IN_FLIGHT = web.AppKey("in_flight", list[int])


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".xml", ".cap"))


def _sent(data: bytes) -> str:
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return ""
    return root.findtext(f"{{{CAP}}}sent") or ""


def _atom(request: web.Request, inline: bool) -> tuple[bytes, str, datetime]:
    files = _files(request.app[DIRECTORY])
    docs = sorted(((p, p.read_bytes()) for p in files), key=lambda f: _sent(f[1]), reverse=True)
    tag = hashlib.sha256(b"".join(p.name.encode() + hashlib.sha256(d).digest()
                                  for p, d in docs)).hexdigest()[:32]
    newest = max((p.stat().st_mtime for p in files), default=0.0)
    updated = datetime.fromtimestamp(int(newest), UTC)
    base = f"http://{request.host}"
    entries = []
    for path, data in docs:
        sent = _sent(data) or updated.isoformat()
        if inline:
            body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
            content = f'<content type="application/cap+xml">{body.decode()}</content>'
        else:
            content = ""
        entries.append(
            f"<entry><id>{escape(base)}/cap/{escape(path.name)}</id>"
            f"<title>{escape(path.stem)}</title><updated>{escape(sent)}</updated>"
            f'<link rel="alternate" type="application/cap+xml" '
            f'href="/cap/{escape(path.name)}"/>{content}</entry>')
    xml = ('<?xml version="1.0" encoding="UTF-8"?>'
           '<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:tocsin:mock-feed</id>'
           f"<title>Mock CAP feed</title><updated>{updated.isoformat()}</updated>"
           + "".join(entries) + "</feed>")
    return xml.encode(), f'"{tag}"', updated


async def feed(request: web.Request) -> web.StreamResponse:
    injected = await request.app[FAULT].apply(request)
    if injected is not None:
        _count(request, request.path + ":fault")
        return injected
    inline = request.path == "/inline.atom"
    body, etag, updated = _atom(request, inline)
    _count(request, request.path)
    since = request.headers.get("If-Modified-Since")
    not_modified = request.headers.get("If-None-Match") == etag
    if not not_modified and since and "If-None-Match" not in request.headers:
        try:
            not_modified = parsedate_to_datetime(since) >= updated
        except (TypeError, ValueError):
            not_modified = False
    headers = {"ETag": etag, "Last-Modified": format_datetime(updated, usegmt=True)}
    if not_modified:
        _count(request, request.path + ":304")
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers, content_type="application/atom+xml")


async def cap_file(request: web.Request) -> web.StreamResponse:
    _count(request, request.path)
    in_flight = request.app[IN_FLIGHT]
    in_flight[0] += 1
    counts = request.app[STATS]
    counts["cap:max-in-flight"] = max(counts.get("cap:max-in-flight", 0), in_flight[0])
    try:
        injected = await request.app[FAULT].apply(request)
        if injected is not None:
            return injected
        name = request.match_info["name"]
        path = request.app[DIRECTORY] / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound
        return web.Response(body=path.read_bytes(), content_type="application/cap+xml")
    finally:
        in_flight[0] -= 1


async def _fail(_request: web.Request) -> web.StreamResponse:
    return web.Response(status=500, text="internal error")


async def _slow(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(float(request.query.get("delay", "30")))
    return await feed(request)


async def _truncated(request: web.Request) -> web.StreamResponse:
    body, _, _ = _atom(request, False)
    return web.Response(body=body[: len(body) // 2], content_type="application/atom+xml")


async def _wrong_encoding(request: web.Request) -> web.StreamResponse:
    body, _, _ = _atom(request, False)
    return web.Response(body=body.replace(b"<title>Mock CAP feed</title>",
                                          "<title>Météo</title>".encode("latin-1")),
                        content_type="application/atom+xml")


async def _wrong_encoding_entry(request: web.Request) -> web.StreamResponse:
    """The feed itself well encoded, but its first entry's title in Latin-1 bytes under
    the UTF-8 declaration: that entry is refused, the others are still read."""
    body, _, _ = _atom(request, False)
    start = body.find(b"<entry>")
    title = body.find(b"<title>", start) + len(b"<title>")
    if start < 0 or title < len(b"<title>"):
        return web.Response(body=body, content_type="application/atom+xml")
    return web.Response(body=body[:title] + "Météo ".encode("latin-1") + body[title:],
                        content_type="application/atom+xml")


async def _bomb(_request: web.Request) -> web.StreamResponse:
    return web.Response(body=BOMB, content_type="application/atom+xml")


async def _loop(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(request.path)


async def _html(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="<html><body>Maintenance</body></html>", content_type="text/html")


async def fault(request: web.Request) -> web.StreamResponse:
    _count(request, request.path)
    handler = FAULTS.get(request.match_info["kind"])
    if handler is None:
        raise web.HTTPNotFound
    return await handler(request)


async def _huge(request: web.Request) -> web.StreamResponse:
    """50 MiB without a Content-Length, so only a limit on what is read stops a client."""
    response = web.StreamResponse(headers={"Content-Type": "application/atom+xml"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b"<!-- " + b"x" * (1 << 20) + b" -->"
    try:
        await response.write(b'<feed xmlns="http://www.w3.org/2005/Atom">')
        for _ in range(HUGE_BYTES // len(chunk)):
            await response.write(chunk)
        await response.write(b"</feed>")
    except (ConnectionResetError, ConnectionError):
        pass  # the client stopped reading: what a bounded client does
    return response


FAULTS: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {
    "500.atom": _fail, "slow.atom": _slow, "truncated.atom": _truncated,
    "wrong-encoding.atom": _wrong_encoding, "wrong-encoding-entry.atom": _wrong_encoding_entry,
    "bomb.atom": _bomb,
    "redirect-loop.atom": _loop, "html": _html, "huge.atom": _huge,
}


def _count(request: web.Request, what: str) -> None:
    counts = request.app[STATS]
    counts[what] = counts.get(what, 0) + 1


async def stats(request: web.Request) -> web.Response:
    counts: dict[str, int] = request.app[STATS]
    return web.json_response(counts)


def make_app(directory: Path) -> web.Application:
    app = web.Application()
    app[DIRECTORY] = directory
    app[STATS] = {}
    app[FAULT] = FaultInjector.healthy()
    app[IN_FLIGHT] = [0]
    app.router.add_get("/feed.atom", feed)
    app.router.add_get("/inline.atom", feed)
    app.router.add_get("/cap/{name}", cap_file)
    app.router.add_get("/fault/{kind}", fault)
    app.router.add_get("/stats", stats)
    app.router.add_get("/_mock/received", stats)
    add_control_routes(app, lambda a: a[FAULT])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    web.run_app(make_app(args.dir), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
