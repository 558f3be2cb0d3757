"""Request bodies: which content codings are taken, and what a body that does not
decode answers.

Stage: HTTP plumbing (every route that reads a body). aiohttp decodes ``gzip`` and
``deflate`` bodies while they are read, raising ``RequestPayloadError`` when the
bytes do not decode; it passes a coding it does not know through *undecoded*, so a body sent as
``Content-Encoding: x-unknown`` (or ``gzip, gzip``, which it does not unwrap)
would be read as if it were plain. Both are refused here, each with its own
problem code, instead of reaching a handler as an exception (a 500) or as bytes
that are not what the client meant:

- 415 ``http.unsupported-content-encoding`` (RFC 9110 §15.5.16, with
  ``Accept-Encoding`` naming what is taken): a coding other than ``gzip``,
  ``deflate`` or ``identity``, or more than one coding;
- 400 ``http.content-encoding``: a ``gzip``/``deflate`` body that does not decode;
- 400 ``http.bad-payload``: any other broken body (e.g. bad chunked framing);
- 408 ``http.body-timeout``: the body did not arrive within
  ``body_read_timeout_s`` (setting, default 30 s). This bounds a client that
  sends a body slowly or stops halfway (each such request holds a socket and a
  task), and a fault in aiohttp: when a deflate body that stops decoding arrives
  in more than one TCP segment, aiohttp queues its own 400 *behind* the request
  whose body can then never complete, and the handler would wait until the
  client hung up.

A truncated gzip body is not detected by aiohttp (it does not check the gzip
trailer): it decodes to a prefix of the document, which then fails as XML
(``xml.malformed``) or as an empty body. The size limit applies to the decoded
bytes (aiohttp counts them while reading), so a compression bomb is a 413.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from router.http.problems import ProblemError

SUPPORTED_CODINGS = frozenset({"gzip", "deflate", "identity"})


def check_content_encoding(request: web.Request) -> None:
    """415 unless the body's ``Content-Encoding`` is one coding aiohttp decodes (or none)."""
    given = request.headers.get("Content-Encoding")
    if given is None or not request.body_exists:
        return
    codings = [token.strip().lower() for token in given.split(",")]
    if len(codings) == 1 and codings[0] in SUPPORTED_CODINGS:
        return
    raise ProblemError(415, "http.unsupported-content-encoding",
                       "Unsupported content coding",
                       f"Content-Encoding {given[:64]!r} is not taken: send the body "
                       "uncompressed or with exactly one of gzip, deflate",
                       headers={"Accept-Encoding": "gzip, deflate"})


def payload_problem(exc: web.RequestPayloadError) -> ProblemError:
    """The problem a body aiohttp could not read answers."""
    if "content-encoding" in str(exc).lower():
        return ProblemError(400, "http.content-encoding", "Body does not decode",
                            "the body is not valid for its Content-Encoding "
                            "(gzip or deflate); nothing was read")
    return ProblemError(400, "http.bad-payload", "Unreadable body",
                        f"the request body could not be read: {str(exc).strip()[:200]}")


async def read_body(request: web.Request, timeout_s: float) -> bytes:
    """The decoded body, or a problem (never a bare aiohttp payload error, never a
    wait without end)."""
    check_content_encoding(request)
    try:
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except web.RequestPayloadError as exc:
        raise payload_problem(exc) from exc
    except TimeoutError as exc:
        raise ProblemError(408, "http.body-timeout", "Body too slow",
                           f"the request body did not arrive within {timeout_s:g} s "
                           "(setting body_read_timeout_s); nothing was read",
                           headers={"Connection": "close"}) from exc
