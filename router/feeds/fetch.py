"""One bounded HTTP GET of a feed or a linked CAP document.

Stage: feeds. What a remote server can do to the service is bounded here: a timeout for
the whole fetch, a byte limit read as the body streams in (a 50 MiB body costs at most
``max_bytes`` + one chunk), redirects followed by hand, at most ``max_redirects`` and only
to ``http``/``https`` (never ``file:`` or anything else), and conditional GET
(``If-None-Match`` / ``If-Modified-Since``) so an unchanged feed costs one 304.
Every failure is a ``FetchError`` with a short machine-readable ``code``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp

SCHEMES = ("http", "https")
CHUNK = 64 * 1024


class FetchError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Fetched:
    status: int
    url: str
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


async def fetch(session: aiohttp.ClientSession, url: str, *, max_bytes: int,
                timeout_s: float, max_redirects: int, etag: str | None = None,
                last_modified: str | None = None) -> Fetched:
    headers = {"Accept": "application/atom+xml, application/rss+xml, application/cap+xml, "
                         "application/xml;q=0.9"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(timeout_s):
            return await _follow(session, url, headers, max_bytes, max_redirects)
    except TimeoutError as exc:
        raise FetchError("feed.timeout", f"no complete answer within {timeout_s} s") from exc
    except aiohttp.ClientError as exc:
        raise FetchError("feed.unreachable", str(exc) or type(exc).__name__) from exc


async def _follow(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                  max_bytes: int, max_redirects: int) -> Fetched:
    for _ in range(max_redirects + 1):
        if urlsplit(url).scheme not in SCHEMES:
            raise FetchError("feed.redirect-scheme", f"refusing to fetch {url!r}: "
                             "only http and https are followed")
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise FetchError("feed.http-status", f"{response.status} without Location")
                url = urljoin(url, location)
                continue
            if response.status == 304:
                return Fetched(304, url)
            if response.status != 200:
                raise FetchError("feed.http-status", f"HTTP {response.status} from {url}")
            if response.content_length is not None and response.content_length > max_bytes:
                raise FetchError("feed.too-large", f"{response.content_length} bytes announced; "
                                 f"the limit is {max_bytes}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(CHUNK):
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError("feed.too-large", f"more than {max_bytes} bytes")
            return Fetched(200, url, bytes(body), response.headers.get("ETag"),
                           response.headers.get("Last-Modified"))
    raise FetchError("feed.redirect-loop", f"more than {max_redirects} redirects")
