"""The wallet documents: the verification keys, the push settings, the full documents.

Stage: ingest. These serve alerts (the alert store and the wallet channel's signing
keys), so they stay with the alert API; the subscription routes belong to the
audience (``router.audience.http``). None of these routes takes an API key: phones
call them.

- ``GET /api/v1/wallet/jwks.json``: the keys alert documents are signed with.
- ``GET /api/v1/wallet/config``: the VAPID ``applicationServerKey`` to subscribe
  with and where the other routes are.
- ``GET /api/v1/wallet/alerts/{alert_id}``: the full signed document a tickle
  points to (``application/jose``), for alerts that went out on a wallet channel.
  It is built from the variants stored with the alert and the audio made so far,
  exactly as the dispatcher hands them to the channel (``router.assets.media``):
  the text a phone fetches is the text pushed to the others.
- ``GET /api/v1/wallet/alerts/{alert_id}/assets/{name}``: a file Tocsin made for
  such an alert (the spoken alert, Ogg Opus; ``?format=wav`` for WAV) that the
  document names with its SHA-256.
  Public like the document: phones hold no API key, and an alert published to
  every wallet is no secret.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from router.assets.media import stored_variants
from router.audience.http import SUBSCRIPTIONS_PATH, wallet_disabled
from router.cap import read_stored
from router.channel import Delivery, DocumentPublisher
from router.http.problems import ProblemError
from router.ingest.context import CONTEXT, IngestContext
from router.ingest.variants import serve_asset
from router.store import AlertRecord, DeliveryState

JWKS_PATH = "/api/v1/wallet/jwks.json"
SERVED_STATES = {DeliveryState.SENDING, DeliveryState.DELIVERED}
"""A document is served once its push has started: before that no phone has a tickle
pointing to it, and an alert not routed to the wallet is never served at all."""


class WalletConfigOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    application_server_key: str = Field(description="VAPID public key, base64url")
    jwks_url: str
    subscriptions_url: str


def _publisher(ctx: IngestContext) -> DocumentPublisher:
    for channel in ctx.channels.values():
        if isinstance(channel, DocumentPublisher):
            return channel
    raise wallet_disabled()


async def get_jwks(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    keys = [key for channel in ctx.channels.values() if isinstance(channel, DocumentPublisher)
            for key in channel.jwks()["keys"]]
    if not keys:
        _publisher(ctx)
    return web.json_response({"keys": keys}, content_type="application/jwk-set+json",
                             headers={"Cache-Control": "public, max-age=300"})


async def get_config(request: web.Request) -> web.Response:
    publisher = _publisher(request.app[CONTEXT])
    body = WalletConfigOut(application_server_key=publisher.application_server_key,
                           jwks_url=JWKS_PATH, subscriptions_url=SUBSCRIPTIONS_PATH)
    return web.Response(body=body.model_dump_json(), content_type="application/json")


def _wallet_delivery(ctx: IngestContext, record: AlertRecord | None
                     ) -> tuple[str, str, DocumentPublisher] | None:
    """(channel, idempotency key, publisher) of the alert's wallet delivery once pushed."""
    for delivery in record.deliveries if record else ():
        channel = ctx.channels.get(delivery.channel)
        if delivery.state in SERVED_STATES and isinstance(channel, DocumentPublisher):
            return delivery.channel, delivery.idempotency_key, channel
    return None


async def _served(request: web.Request) -> tuple[str, str, DocumentPublisher]:
    """(channel, idempotency key, publisher) of an alert a phone may fetch, else 404."""
    ctx = request.app[CONTEXT]
    alert_id = request.match_info["alert_id"]
    found = _wallet_delivery(ctx, await ctx.store.get(alert_id))
    if found is None:
        raise ProblemError(404, "wallet.document-not-found", "No such wallet alert",
                           f"no alert {alert_id!r} went out on a wallet channel")
    return found


async def get_document(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    alert_id = request.match_info["alert_id"]
    channel, key, publisher = await _served(request)
    raw = await ctx.store.raw_cap(alert_id)
    alert = read_stored(raw) if raw else None
    if raw is None or alert is None:
        raise ProblemError(404, "wallet.document-not-found", "No such wallet alert",
                           f"alert {alert_id!r} no longer parses")
    delivery = Delivery(alert_id=alert_id, channel=channel, idempotency_key=key,
                        alert=alert, raw=raw,
                        variants=await stored_variants(ctx.store, alert_id))
    return web.Response(text=publisher.signed_document(delivery),
                        content_type="application/jose",
                        headers={"Cache-Control": "public, max-age=60"})


async def get_asset(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    await _served(request)
    return await serve_asset(request, ctx, request.match_info["alert_id"],
                             request.match_info["name"],
                             {"Cache-Control": "public, max-age=3600"})
