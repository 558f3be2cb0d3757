"""Per-request context and error rendering.

Stage: ingest. Every response carries ``X-Request-ID`` (the caller's, if it
sent a sane one, else a new ULID) and every log line of the request carries
``request_id``; every error, including aiohttp's own 404/405 and anything
unexpected, leaves as ``application/problem+json``. A body that does not decode
for its ``Content-Encoding`` is a 4xx on every route (``router.http.body``),
checked here so that no handler's own body reading can turn it into a 500.
"""

from __future__ import annotations

import re
import time

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from ulid import ULID

from router.http.body import check_content_encoding, payload_problem
from router.http.problems import ProblemError

_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
log = structlog.get_logger("tocsin.http")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-ID", "")
    request_id = given if _SANE_ID.fullmatch(given) else str(ULID())
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    response: web.StreamResponse
    try:
        check_content_encoding(request)
        response = await handler(request)
    except ProblemError as problem:
        response = problem.response(request_id)
    except web.RequestPayloadError as exc:
        response = payload_problem(exc).response(request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kept = {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}
        response = ProblemError(exc.status, f"http.{exc.status}", exc.reason,
                                f"{request.method} {request.path}: {exc.reason}",
                                headers=kept).response(request_id)
    except Exception:
        log.exception("http.unhandled")
        response = ProblemError(500, "internal", "Internal error",
                                "an unexpected error occurred; it has been logged with "
                                "this request id").response(request_id)
    response.headers["X-Request-ID"] = request_id
    log.info("http.request", method=request.method, path=request.path,
             status=response.status, ms=round((time.perf_counter() - started) * 1000, 2))
    return response
