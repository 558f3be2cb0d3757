"""Fuzzing the HTTP API of a real ``tocsin serve``: no request may get a 5xx.

Two generators, each bounded (about a minute together on a loaded 2-core machine)
and deterministic (``derandomize=True``, no example database, so CI runs the same
requests every time and a failure reproduces):

- **schemathesis** over the served OpenAPI document (``/api/v1/openapi.json``):
  every operation, with values that fit the schema and values that do not
  (headers, query parameters, path parameters, JSON bodies);
- **hand-written hypothesis strategies** for what the schema cannot describe: CAP
  XML mutated structurally (foreign-namespace elements and attributes anywhere,
  attribute floods, truncation, stray bytes), ``Content-Encoding`` values and
  bodies that do not decode, odd ``Content-Type`` and ``Authorization`` headers,
  ``?profile=`` values, and unknown paths and methods.

The server runs with dispatch disabled: nothing is delivered, so the run costs no
channel work, and the event-stream route is fuzzed with ids that exist only
through its own test (an open stream on a pending alert would never end).
Every 4xx must still be ``application/problem+json``, except the plain-text 400
aiohttp's own HTTP parser sends for framing it cannot read.
"""

from __future__ import annotations

import gzip
import http.client
import signal
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from lxml import etree

from tests.integration.conftest import make_alert
from tests.integration.server import DEV_KEY, Server, start_server

AUTH = {"Authorization": f"Bearer {DEV_KEY}"}
EXAMPLES_PER_OPERATION = 12
RAW_EXAMPLES = 150
BODY_TIMEOUT_S = 3
"""The server's body deadline, short so that a body aiohttp never completes costs
the run seconds, not the client's 30 s timeout."""
FUZZ: dict[str, Any] = {
    "derandomize": True, "database": None, "deadline": None, "print_blob": True,
    "suppress_health_check": list(HealthCheck),
    "phases": [Phase.explicit, Phase.generate],  # no shrinking: the failing request is
}                                                # printed as it was sent, in bounded time
SKIPPED_OPERATIONS = {"alert_events", "all_events"}  # all_events: it never ends
"""Fuzzed by the raw generator instead (see the module docstring)."""


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("fuzz") / "data",
                          env={"TOCSIN_DISPATCH_ENABLED": "false",
                               "TOCSIN_BODY_READ_TIMEOUT_S": str(BODY_TIMEOUT_S)})
    yield server
    server.stop(signal.SIGKILL)


def _request(server: Server, method: str, path: str, body: bytes | None,
             headers: dict[str, str]) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    except TimeoutError as exc:  # an answer that never comes is worse than a 5xx
        raise AssertionError(f"no answer in 30 s: {method} {path} {headers} "
                             f"{body[:300] if body else b''!r}") from exc
    finally:
        connection.close()


def _assert_no_server_error(status: int, content_type: str, body: bytes, what: str) -> None:
    assert status < 500, f"{what} -> {status}: {body[:500]!r}"
    if 400 <= status < 500 and not content_type.startswith("text/plain"):
        assert content_type.startswith("application/problem+json"), (what, content_type)


def test_every_operation_of_the_openapi_document(api: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{api.url}/api/v1/openapi.json")
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in SKIPPED_OPERATIONS:
            continue
        for mode in schemathesis.GenerationMode:
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=EXAMPLES_PER_OPERATION, **FUZZ)
            @given(case=strategy)
            def run(case: schemathesis.Case) -> None:
                response = case.call(base_url=api.url, headers=AUTH, timeout=30)
                content_type = response.headers.get("content-type") or [""]
                _assert_no_server_error(response.status_code, content_type[0],
                                        response.content,
                                        f"{case.method} {case.formatted_path} {case.query} "
                                        f"{case.headers} {case.body!r:.300}")

            try:
                run()
            except Unsatisfiable:
                # an operation without parameters or body has no invalid variant
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
                continue
            checked += 1
    assert checked >= 12 + 6, "fewer operations than the API has"


CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_NAME = st.from_regex(r"\A[a-wyz][a-zA-Z0-9]{0,6}\Z")
_URI = st.sampled_from(["urn:example:ext", "http://www.w3.org/2000/09/xmldsig#",
                        "http://www.w3.org/1999/xhtml", "", CAP_NS, "urn:x"])


@st.composite
def mutated_alert(draw: st.DrawFn) -> bytes:
    """A real alert with one structural change a fuzzer would make."""
    root = etree.fromstring(make_alert("FUZZ-" + draw(st.from_regex(r"\A[A-Z0-9]{1,8}\Z"))))
    elements = list(root.iter(tag=etree.Element))
    target = elements[draw(st.integers(0, len(elements) - 1))]
    kind = draw(st.sampled_from(["element", "attribute", "flood", "text", "drop"]))
    if kind == "element":
        uri, prefix = draw(_URI), draw(st.one_of(st.none(), _NAME))
        tag = f"{{{uri}}}{draw(_NAME)}" if uri else draw(_NAME)
        child = etree.Element(tag, nsmap={prefix: uri} if uri else None)
        child.text = draw(st.text(max_size=20).filter(_xml_text))
        target.insert(draw(st.integers(0, len(target))), child)
    elif kind == "attribute":
        uri = draw(_URI)
        name = f"{{{uri}}}{draw(_NAME)}" if uri else draw(_NAME)
        target.set(name, draw(st.text(max_size=20).filter(_xml_text)))
    elif kind == "flood":
        for number in range(draw(st.sampled_from([10, 999, 1001, 5000]))):
            target.set(f"a{number}", "x")
    elif kind == "text":
        target.text = draw(st.text(max_size=200).filter(_xml_text))
    elif target.getparent() is not None:
        target.getparent().remove(target)  # type: ignore[union-attr]
    data = etree.tostring(root, xml_declaration=draw(st.booleans()), encoding="UTF-8")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=8)) + data[cut:]
    return bytes(data)


def _xml_text(text: str) -> bool:
    try:
        etree.Element("t").text = text
    except ValueError:
        return False
    return True


def _encoded(body: bytes, coding: str, corrupt: bool) -> bytes:
    encoded = {"gzip": lambda b: gzip.compress(b, mtime=0),  # same bytes every run
               "deflate": zlib.compress}.get(coding, lambda b: b)(body)
    return encoded[: len(encoded) // 2] + b"\x00garbage" if corrupt else encoded


@st.composite
def raw_request(draw: st.DrawFn) -> tuple[str, str, bytes | None, dict[str, str]]:
    headers: dict[str, str] = {}
    authorization = draw(st.sampled_from(["key", "key", "key", "none", "odd"]))
    if authorization == "key":
        headers.update(AUTH)
    elif authorization == "odd":
        headers["Authorization"] = draw(st.sampled_from(
            ["Bearer", "Bearer  ", f"bearer {DEV_KEY}", f"Bearer {DEV_KEY}x", "Basic Og==",
             f"Bearer {DEV_KEY} {DEV_KEY}"]))
    target = draw(st.sampled_from(["alerts", "alerts", "alerts", "wallet", "other"]))
    if target == "other":
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]))
        suffix = draw(st.sampled_from([
            "/api/v1/alerts/x/events", "/api/v1/alerts/%00", "/api/v1/alerts/../../etc",
            "/api/v1/alerts?limit=0", "/api/v1/alerts?since=yesterday",
            "/api/v1/alerts?cursor=%ff", "/api/v1/alerts?state=", "/api/v1/nope",
            "/api/v1/alerts/x/assets/..%2f..%2fetc%2fpasswd", "/metrics", "/readyz"]))
        return method, suffix, None, headers
    if target == "wallet":
        body: bytes = draw(st.sampled_from([b"{}", b"[]", b"null", b'{"endpoint": 1}',
                                            b"\xff\xfe", b'{"endpoint": "https://x"}']))
        headers["Content-Type"] = "application/json"
        path = "/api/v1/wallet/subscriptions"
    else:
        body = draw(st.one_of(mutated_alert(), mutated_alert(), st.binary(max_size=300)))
        headers["Content-Type"] = draw(st.sampled_from(
            ["application/cap+xml", "application/cap+xml", "application/xml",
             "application/cap+xml; charset=latin-1", "text/xml", "application/json"]))
        profile = draw(st.sampled_from(["", "", "?profile=nl-alert", "?profile=eu-alert",
                                        "?profile=%00", "?profile=../x", "?profile="]))
        path = "/api/v1/alerts" + profile
    coding = draw(st.sampled_from(["", "", "", "gzip", "deflate", "identity", "br",
                                   "gzip, deflate", "x-custom", "GZIP"]))
    if coding:
        headers["Content-Encoding"] = coding
        body = _encoded(body, coding.lower(), draw(st.booleans()))
    return "POST", path, body, headers


def test_raw_requests_with_hostile_bodies_and_headers(api: Server) -> None:
    @settings(max_examples=RAW_EXAMPLES, **FUZZ)
    @given(request=raw_request())
    def run(request: tuple[str, str, bytes | None, dict[str, Any]]) -> None:
        method, path, body, headers = request
        status, content_type, answer = _request(api, method, path, body, headers)
        _assert_no_server_error(status, content_type, answer,
                                f"{method} {path} {headers} {body[:200] if body else b''!r}")

    run()
