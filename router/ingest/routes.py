"""The route table: registers the handlers and is the source of the OpenAPI document.

Stage: ingest. One list drives both ``app.router`` and ``/api/v1/openapi.json``,
so the document describes exactly the routes that exist (a test checks it). The
audience's subscription routes are defined in ``router.audience.http`` and listed
here in their place.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from router.audience import http as audience_http
from router.http.endpoints import Endpoint
from router.http.problems import Problem
from router.ingest import (
    approvals,
    audit_api,
    compose_options,
    drafts_api,
    handlers,
    observe,
    overview,
    preview_api,
    retry,
    variants,
    wallet,
)
from router.ingest.schemas import (
    Accepted,
    AlertList,
    AlertOut,
    DecisionIn,
    Health,
    RetryAccepted,
    VariantsOut,
)
from router.store import AlertState

_ID = {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "string"}}
_DRAFT = {"name": "draft_id", "in": "path", "required": True, "schema": {"type": "string"}}
_FORMAT = {"name": "format", "in": "query", "required": False,
           "schema": {"type": "string", "enum": ["wav"]},
           "description": "wav: the audio decoded to WAV (16-bit PCM) for a player without Opus"}
_AUTH_ERRORS: dict[int, tuple[type[BaseModel] | str | None, str]] = {
    401: (Problem, "missing or unknown API key"),
}

ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/v1/alerts", handlers.post_alert,
             "Submit a CAP alert: validated, authorised and stored durably before 202",
             {202: (Accepted, "stored with its delivery plan"),
              200: (Accepted, "the identical alert was stored before; the original result"),
              400: (Problem, "not a readable CAP document, unknown profile, or a body that "
                             "does not decode for its Content-Encoding"),
              **_AUTH_ERRORS,
              403: (Problem, "the key lacks the role, or the alert breaks its authority's "
                             "policy (sender, authz.* findings)"),
              408: (Problem, "the body did not arrive within body_read_timeout_s"),
              409: (Problem, "same CAP key (sender, identifier, sent), different content"),
              413: (Problem, "body larger than the configured limit"),
              415: (Problem, "not application/cap+xml or application/xml, or a "
                             "Content-Encoding other than one of gzip, deflate"),
              422: (Problem, "invalid under CAP 1.2 or the profile; see findings"),
              429: (Problem, "too many writes with this API key; see Retry-After"),
              503: (Problem, "store unavailable; not accepted, retry")},
             parameters=[{"name": "profile", "in": "query", "required": False,
                          "schema": {"type": "string"},
                          "description": "validation profile (default: the authority's, "
                                         "else the service default)"}],
             cap_body=True),
    Endpoint("POST", "/api/v1/alerts/preview", preview_api.preview_alert,
             "Validate and render a CAP alert WITHOUT storing it: the findings a post would "
             "get, and what each channel would carry (as GET .../variants after the post)",
             {200: (preview_api.PreviewOut, "valid or not: the findings, and when valid the "
                                            "per-channel preview; nothing stored or sent"),
              400: (Problem, "unknown profile, or a body that does not decode"),
              **_AUTH_ERRORS,
              413: (Problem, "body larger than the configured limit"),
              415: (Problem, "not application/cap+xml or application/xml")},
             parameters=[{"name": "profile", "in": "query", "required": False,
                          "schema": {"type": "string"},
                          "description": "validation profile, as for POST /api/v1/alerts"}],
             cap_body=True),
    Endpoint("POST", "/api/v1/alerts/preview/speech", preview_api.preview_speech,
             "The spoken text of one language of a CAP alert NOT stored, as the speech "
             "worker would make it after the post (Ogg Opus, made on request, kept nowhere)",
             {200: ("audio/ogg; codecs=opus", "the audio"),
              400: (Problem, "unknown profile, or a body that does not decode"),
              **_AUTH_ERRORS,
              404: (Problem, "the alert has no such language"),
              413: (Problem, "body larger than the configured limit"),
              415: (Problem, "not application/cap+xml or application/xml"),
              422: (Problem, "the alert would be refused; see findings"),
              503: (Problem, "speech is off or unavailable here, or busy (Retry-After)")},
             parameters=[{"name": "lang", "in": "query", "required": True,
                          "schema": {"type": "string"},
                          "description": "the language (as the alert's <language>)"},
                         {"name": "profile", "in": "query", "required": False,
                          "schema": {"type": "string"},
                          "description": "validation profile, as for POST /api/v1/alerts"}],
             cap_body=True),
    Endpoint("GET", "/api/v1/compose-options", compose_options.compose_options,
             "What a compose form offers for a profile: its allowed events (else the "
             "template library's hazards) and the verified instruction templates",
             {200: (compose_options.ComposeOptions, "the choices"),
              400: (Problem, "unknown profile"), **_AUTH_ERRORS},
             parameters=[{"name": "profile", "in": "query", "required": False,
                          "schema": {"type": "string"},
                          "description": "default: the authority's, else the service's"}]),
    Endpoint("POST", "/api/v1/drafts", drafts_api.create_draft,
             "Save a compose form as a draft of this key's principal (never sent)",
             {201: (drafts_api.DraftOut, "saved"), 400: (Problem, "not a draft body"),
              **_AUTH_ERRORS, 403: (Problem, "the key lacks 'submit'"),
              409: (Problem, "the principal holds the most drafts allowed"),
              413: (Problem, "draft larger than 256 KiB")},
             json_body=drafts_api.DraftIn),
    Endpoint("GET", "/api/v1/drafts", drafts_api.list_drafts,
             "This key's principal's drafts, the latest changed first",
             {200: (drafts_api.DraftList, "the drafts"), **_AUTH_ERRORS,
              403: (Problem, "the key lacks 'submit'")}),
    Endpoint("GET", "/api/v1/drafts/{draft_id}", drafts_api.get_draft,
             "One draft of this key's principal",
             {200: (drafts_api.DraftOut, "the draft"), **_AUTH_ERRORS,
              403: (Problem, "the key lacks 'submit'"),
              404: (Problem, "no such draft of this principal")},
             parameters=[_DRAFT]),
    Endpoint("PUT", "/api/v1/drafts/{draft_id}", drafts_api.replace_draft,
             "Replace a draft's title and form",
             {200: (drafts_api.DraftOut, "saved"), 400: (Problem, "not a draft body"),
              **_AUTH_ERRORS, 403: (Problem, "the key lacks 'submit'"),
              404: (Problem, "no such draft of this principal"),
              413: (Problem, "draft larger than 256 KiB")},
             parameters=[_DRAFT], json_body=drafts_api.DraftIn),
    Endpoint("DELETE", "/api/v1/drafts/{draft_id}", drafts_api.delete_draft,
             "Delete a draft",
             {204: (None, "deleted"), **_AUTH_ERRORS, 403: (Problem, "the key lacks 'submit'"),
              404: (Problem, "no such draft of this principal")},
             parameters=[_DRAFT]),
    Endpoint("GET", "/api/v1/alerts", handlers.list_alerts,
             "List alerts in the order they were accepted, a page at a time",
             {200: (AlertList, "a page of alerts"),
              400: (Problem, "unknown query parameter, bad filter or cursor"),
              **_AUTH_ERRORS},
             parameters=[
                 {"name": "state", "in": "query", "schema": {
                     "type": "string", "enum": [s.value for s in AlertState]}},
                 {"name": "since", "in": "query", "schema": {"type": "string",
                                                             "format": "date-time"},
                  "description": "accepted at or after this time"},
                 {"name": "until", "in": "query", "schema": {"type": "string",
                                                             "format": "date-time"},
                  "description": "accepted before this time"},
                 {"name": "authority", "in": "query", "schema": {"type": "string",
                                                                 "minLength": 1},
                  "description": "this authority's alerts (of those the key may read)"},
                 {"name": "event", "in": "query", "schema": {"type": "string",
                                                             "minLength": 1},
                  "description": "alerts with an info whose <event> is this text, "
                                 "compared case-insensitively"},
                 {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                 {"name": "limit", "in": "query",
                  "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
             ]),
    Endpoint("GET", "/api/v1/alerts/{alert_id}", handlers.get_alert,
             "State, findings, references and per-channel deliveries of one alert",
             {200: (AlertOut, "the alert"), 404: (Problem, "no such alert"), **_AUTH_ERRORS},
             parameters=[_ID]),
    Endpoint("POST", "/api/v1/alerts/{alert_id}/approve", approvals.approve_alert,
             "Approve an alert waiting in pending_approval (a principal other than its "
             "submitter, holding 'approve'): its deliveries are planned at once",
             {200: (AlertOut, "approved; the alert with its deliveries"),
              400: (Problem, "body is not {\"reason\": ...}"), **_AUTH_ERRORS,
              403: (Problem, "no 'approve' role, or authz.same-person"),
              404: (Problem, "no such alert"),
              409: (Problem, "not pending approval, or the approval window closed")},
             parameters=[_ID], json_body=DecisionIn),
    Endpoint("POST", "/api/v1/alerts/{alert_id}/reject", approvals.reject_alert,
             "Reject an alert waiting in pending_approval, with a reason; it is never sent",
             {200: (AlertOut, "rejected"), 400: (Problem, "no reason given"), **_AUTH_ERRORS,
              403: (Problem, "no 'approve' role, or authz.same-person"),
              404: (Problem, "no such alert"),
              409: (Problem, "not pending approval, or the approval window closed")},
             parameters=[_ID], json_body=DecisionIn),
    Endpoint("GET", "/api/v1/alerts/{alert_id}/cap", handlers.get_alert_cap,
             "The CAP document exactly as received (byte for byte)",
             {200: ("application/cap+xml", "the bytes as received"),
              404: (Problem, "no such alert"), **_AUTH_ERRORS},
             parameters=[_ID]),
    Endpoint("GET", "/api/v1/alerts/{alert_id}/envelope", handlers.get_alert_envelope,
             "The EDXL-DE envelope a feed delivered the alert in, as received",
             {200: ("application/xml", "the EDXLDistribution document"),
              404: (Problem, "no such alert, or alert.no-envelope"), **_AUTH_ERRORS},
             parameters=[_ID]),
    Endpoint("GET", "/api/v1/alerts/{alert_id}/events", observe.alert_events,
             "Live delivery progress (server-sent events) until every delivery is final",
             {200: ("text/event-stream", "`delivery` events as deliveries change, then `done`"),
              404: (Problem, "no such alert"), **_AUTH_ERRORS,
              429: (Problem, "this key holds max_event_streams_per_key open streams")},
             parameters=[_ID]),
    Endpoint("GET", "/api/v1/events", overview.all_events,
             "Every active alert's state, live (server-sent events): the crisis dashboard",
             {200: ("text/event-stream", "`alert` and `ended` events as alerts change, "
                    "`overview` with totals and channel breakers"), **_AUTH_ERRORS,
              429: (Problem, "this key holds max_event_streams_per_key open streams")}),
    Endpoint("GET", "/api/v1/audit", audit_api.get_audit,
             "The tamper-evident audit trail in sequence order, a page at a time "
             "(admin role); each entry as chained, so its hash can be recomputed",
             {200: (audit_api.AuditList, "a page of entries"),
              400: (Problem, "unknown query parameter, bad filter or cursor"),
              **_AUTH_ERRORS, 403: (Problem, "the key does not hold the admin role")},
             parameters=[
                 {"name": "since", "in": "query", "schema": {"type": "string",
                                                             "format": "date-time"},
                  "description": "entries appended at or after this time"},
                 {"name": "principal", "in": "query", "schema": {"type": "string"},
                  "description": "an authority name or a key id (sha256:<16 hex>)"},
                 {"name": "subject", "in": "query", "schema": {"type": "string"},
                  "description": "the entries about this alert id or key id"},
                 {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                 {"name": "limit", "in": "query",
                  "schema": {"type": "integer", "minimum": 1, "maximum": 500,
                             "default": audit_api.DEFAULT_LIMIT}},
             ]),
    Endpoint("POST", "/api/v1/alerts/{alert_id}/deliveries/{channel}/retry",
             retry.retry_delivery,
             "Send one failed or expired delivery again while the alert is in force "
             "(records and audits who asked)",
             {202: (RetryAccepted, "pending again; the dispatcher is woken"),
              **_AUTH_ERRORS,
              403: (Problem, "the key's authority may not use the alert's CAP sender"),
              404: (Problem, "no such alert, or no delivery on that channel"),
              409: (Problem, "the alert is cancelled or superseded, or the delivery is not "
                             "failed or expired"),
              422: (Problem, "the alert is past its <expires>")},
             parameters=[_ID, {"name": "channel", "in": "path", "required": True,
                               "schema": {"type": "string"}}]),
    Endpoint("GET", "/metrics", observe.metrics,
             "Prometheus metrics (bounded labels only; for the operations network)",
             {200: ("text/plain; version=0.0.4", "Prometheus text exposition format")},
             authenticated=False),
    Endpoint("GET", "/api/v1/alerts/{alert_id}/variants", variants.get_variants,
             "Every accessible variant of the alert and what each channel will carry "
             "(pages/parts, budget use)",
             {200: (VariantsOut, "the variants"),
              404: (Problem, "no such alert, or stored without variants"), **_AUTH_ERRORS},
             parameters=[_ID]),
    Endpoint("GET", "/api/v1/alerts/{alert_id}/assets/{name}", variants.get_asset,
             "A file made for the alert (spoken variant, Ogg Opus; ?format=wav for WAV)",
             {200: ("audio/ogg; codecs=opus", "the file; ETag is its SHA-256 (with "
                    "?format=wav: audio/wav decoded from it)"),
              400: (Problem, "a format other than wav"),
              404: (Problem, "no such asset"),
              410: (Problem, "the audio was pruned after the alert expired (asset.pruned)"),
              **_AUTH_ERRORS},
             parameters=[_ID, {"name": "name", "in": "path", "required": True,
                               "schema": {"type": "string"}}, _FORMAT]),
    Endpoint("GET", "/healthz", handlers.healthz, "Liveness", {200: (Health, "alive")},
             authenticated=False),
    Endpoint("GET", "/readyz", handlers.readyz, "Readiness: store usable, not draining",
             {200: (Health, "ready"), 503: (Health, "not ready")}, authenticated=False),
    *audience_http.ENDPOINTS,  # the subscription routes: the audience owns them
    Endpoint("GET", wallet.JWKS_PATH, wallet.get_jwks,
             "The keys wallet alert documents are signed with (JWKS, ES256)",
             {200: ("application/jwk-set+json", "the key set"),
              404: (Problem, "no wallet channel configured")}, authenticated=False),
    Endpoint("GET", "/api/v1/wallet/config", wallet.get_config,
             "The VAPID applicationServerKey to subscribe with, and the wallet routes",
             {200: (wallet.WalletConfigOut, "wallet push settings"),
              404: (Problem, "no wallet channel configured")}, authenticated=False),
    Endpoint("GET", "/api/v1/wallet/alerts/{alert_id}", wallet.get_document,
             "The full signed document (compact JWS) a wallet tickle points to",
             {200: ("application/jose", "the signed alert document"),
              404: (Problem, "no such alert on a wallet channel")},
             authenticated=False, parameters=[_ID]),
    Endpoint("GET", "/api/v1/wallet/alerts/{alert_id}/assets/{name}", wallet.get_asset,
             "A file Tocsin made for a wallet alert (the spoken alert, Ogg Opus; "
             "?format=wav for WAV), named in its signed document with its SHA-256",
             {200: ("audio/ogg; codecs=opus", "the file; ETag is its SHA-256 (with "
                    "?format=wav: audio/wav decoded from it)"),
              400: (Problem, "a format other than wav"),
              404: (Problem, "no such alert on a wallet channel, or no such asset"),
              410: (Problem, "the audio was pruned after the alert expired (asset.pruned)")},
             authenticated=False, parameters=[_ID, {"name": "name", "in": "path",
                                                    "required": True,
                                                    "schema": {"type": "string"}}, _FORMAT]),
]


MORE_ENDPOINTS = web.AppKey("tocsin.more_endpoints", list[Endpoint])
"""Routes of the stages above ingest (``router.feeds``), registered with
``add_endpoints`` so that the OpenAPI document lists them too."""


def add_routes(app: web.Application) -> None:
    for endpoint in ENDPOINTS:
        app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)
    app.router.add_get("/api/v1/openapi.json", openapi_handler)
    app[MORE_ENDPOINTS] = []


def add_endpoints(app: web.Application, endpoints: list[Endpoint]) -> None:
    """Serve and document ``endpoints`` (after ``add_routes``)."""
    for endpoint in endpoints:
        app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)
    app[MORE_ENDPOINTS].extend(endpoints)


async def openapi_handler(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app[MORE_ENDPOINTS]))


def openapi_document(more: list[Endpoint] | None = None) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for endpoint in [*ENDPOINTS, *(more or [])]:
        operation: dict[str, Any] = {"summary": endpoint.summary,
                                     "operationId": endpoint.handler.__name__,
                                     "responses": {}}
        if endpoint.parameters:
            operation["parameters"] = endpoint.parameters
        if endpoint.authenticated:
            operation["security"] = [{"bearer": []}]
        if endpoint.cap_body:
            operation["requestBody"] = {"required": True, "content": {
                media: {"schema": {"type": "string", "description": "CAP 1.2 (or 1.1/1.0) XML"}}
                for media in handlers.CAP_MEDIA_TYPES}}
        if endpoint.json_body is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": _content(endpoint.json_body, schemas)["content"][
                    "application/json"]}}
        for status, (model, description) in sorted(endpoint.responses.items()):
            operation["responses"][str(status)] = {"description": description,
                                                   **_content(model, schemas)}
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    paths["/api/v1/openapi.json"] = {"get": {
        "summary": "This document", "operationId": "openapi",
        "responses": {"200": {"description": "OpenAPI 3.1",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tocsin", "version": "1",
                 "description": "Public-warning message router: CAP 1.2 in, channels out."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "an API key bound to an authority"}}},
    }


def _content(model: type[BaseModel] | str | None, schemas: dict[str, Any]) -> dict[str, Any]:
    if model is None:
        return {}
    if isinstance(model, str):
        return {"content": {model: {"schema": {"type": "string"}}}}
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    media = "application/problem+json" if model is Problem else "application/json"
    return {"content": {media: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
