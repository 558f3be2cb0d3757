"""Errors as RFC 9457 ``application/problem+json`` responses with machine-readable codes.

Stage: HTTP plumbing (below every package that serves routes). Handlers raise
``ProblemError``; the ingest middleware renders it.

An answer lists at most ``MAX_PROBLEM_FINDINGS`` findings and counts the rest in
``findings_omitted``: an alert with thousands of faults is rewritten, not fixed
one finding at a time, and a multi-megabyte error body only costs both sides
memory (the CAP core already bounds schema errors the same way).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from router.cap import Finding

MAX_PROBLEM_FINDINGS = 100
PROBLEM_TYPE = "https://tocsin.invalid/problems/"
"""Base of the ``type`` URIs; ``.invalid`` because they name, and do not locate, a problem."""


class Problem(BaseModel):
    """RFC 9457 problem details, with Tocsin's ``code`` and the CAP ``findings``."""

    model_config = ConfigDict(frozen=True)
    type: str
    title: str
    status: int
    code: str
    detail: str
    findings: list[Finding] = Field(default_factory=list)
    findings_omitted: int | None = Field(
        default=None, description="findings beyond the first MAX_PROBLEM_FINDINGS, not listed")
    request_id: str | None = None
    existing_id: str | None = None


class ProblemError(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str, *,
                 findings: list[Finding] | None = None, existing_id: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.findings = findings or []
        self.existing_id = existing_id
        self.headers = headers or {}

    def response(self, request_id: str | None) -> web.Response:
        omitted = len(self.findings) - MAX_PROBLEM_FINDINGS
        body = Problem(type=PROBLEM_TYPE + self.code, title=self.title, status=self.status,
                       code=self.code, detail=self.detail,
                       findings=self.findings[:MAX_PROBLEM_FINDINGS],
                       findings_omitted=omitted if omitted > 0 else None,
                       request_id=request_id, existing_id=self.existing_id)
        return web.Response(status=self.status, headers=self.headers,
                            body=body.model_dump_json(exclude_none=True),
                            content_type="application/problem+json")


def reject_unknown_parameters(given: Iterable[str], known: Collection[str]) -> None:
    """400 ``query.unknown-parameter`` for a query parameter the route does not read: a
    misspelt filter that were ignored would answer another question without saying so."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ProblemError(400, "query.unknown-parameter", "Unknown query parameter",
                           f"unknown: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
