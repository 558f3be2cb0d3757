"""The wallet push API: subscribe and unsubscribe, the verification keys, full documents.

Stage: ingest. None of these routes takes an API key: phones call them.

- ``POST /api/v1/wallet/subscriptions``: a W3C ``PushSubscription`` (``endpoint``,
  ``expirationTime``, ``keys.p256dh``, ``keys.auth``) plus, optionally,
  ``country`` (ISO 3166-1 alpha-2) and ``languages`` (BCP 47, preference order).
  Any other member is refused (422): the API takes no identity, no location and
  no device id, so none can be stored by mistake. 201 ``{id}`` (the handle to
  unsubscribe with), or 200 with the same id for an endpoint already subscribed
  with the same keys. Checked before anything is stored (``subscription_checks``):
  ``keys.p256dh`` a point on P-256, ``keys.auth`` 16 bytes, the endpoint an https
  URL without ``user:password@`` whose host *and* port a known push service uses
  (``wallet_push_hosts``; otherwise anyone could make Tocsin POST to any URL), and
  language tags of BCP 47 shape, at most 35 characters and 8 of them.
  **An endpoint already subscribed with other keys is refused (409
  ``wallet.subscription-exists``)** and its id is not revealed: replacing the keys
  would hand the subscription to whoever learnt the endpoint. Keys are renewed with
  the proof of the old subscription, its id:
- ``PUT /api/v1/wallet/subscriptions/{subscription_id}``: the same endpoint with new
  keys (200), or 404 when no subscription has that id and endpoint. A browser that
  lost the id subscribes again with a new endpoint (``pushManager.subscribe`` after
  ``unsubscribe`` gives one), which is a new subscription.
- The subscription routes are rate limited per client address
  (``subscription_rate_limit``; 429 with ``Retry-After``): see ``router.ingest.limits``.
- ``DELETE /api/v1/wallet/subscriptions/{subscription_id}``: 204, or 404.
- ``GET /api/v1/wallet/jwks.json``: the keys alert documents are signed with.
- ``GET /api/v1/wallet/config``: the VAPID ``applicationServerKey`` to subscribe
  with and where the other routes are.
- ``GET /api/v1/wallet/alerts/{alert_id}``: the full signed document a tickle
  points to (``application/jose``), for alerts that went out on a wallet channel.
  It is built from the variants stored with the alert and the audio made so far,
  exactly as the dispatcher hands them to the channel (``router.assets.media``):
  the text a phone fetches is the text pushed to the others.
- ``GET /api/v1/wallet/alerts/{alert_id}/assets/{name}``: a file Tocsin made for
  such an alert (the spoken alert, WAV) that the document names with its SHA-256.
  Public like the document: phones hold no API key, and an alert published to
  every wallet is no secret.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router.assets.media import stored_variants
from router.audience import AudienceStore, NewWalletSubscription
from router.audience.subscription_checks import LanguageTag, check_endpoint, check_keys
from router.cap import parse_cap
from router.channel import Delivery, DocumentPublisher
from router.errors import StoreUnavailableError
from router.ingest.body import read_body
from router.ingest.context import CONTEXT, IngestContext
from router.ingest.problems import ProblemError
from router.store import AlertRecord, DeliveryState

JWKS_PATH = "/api/v1/wallet/jwks.json"
SUBSCRIPTIONS_PATH = "/api/v1/wallet/subscriptions"
SERVED_STATES = {DeliveryState.SENDING, DeliveryState.DELIVERED}
"""A document is served once its push has started: before that no phone has a tickle
pointing to it, and an alert not routed to the wallet is never served at all."""


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    p256dh: str = Field(min_length=80, max_length=100, pattern=r"^[A-Za-z0-9_-]+=*$")
    auth: str = Field(min_length=20, max_length=30, pattern=r"^[A-Za-z0-9_-]+=*$")


class SubscriptionIn(BaseModel):
    """A W3C PushSubscription (``toJSON()``) and the holder's optional choices."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    endpoint: str = Field(max_length=2048, pattern=r"^https?://")
    expirationTime: float | None = None  # noqa: N815  (the W3C member name); not stored
    keys: PushKeys
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    languages: list[LanguageTag] = Field(default_factory=list, max_length=8)


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str = Field(description="the handle to DELETE the subscription with")


class WalletConfigOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    application_server_key: str = Field(description="VAPID public key, base64url")
    jwks_url: str
    subscriptions_url: str


def _publisher(ctx: IngestContext) -> DocumentPublisher:
    for channel in ctx.channels.values():
        if isinstance(channel, DocumentPublisher):
            return channel
    raise ProblemError(404, "wallet.disabled", "Wallet push is not enabled",
                       "no eudi_wallet channel is configured on this Tocsin")


async def _given(request: web.Request) -> NewWalletSubscription:
    """The posted subscription once every check passed (422 with the first problem)."""
    ctx = request.app[CONTEXT]
    _publisher(ctx)
    try:
        given = SubscriptionIn.model_validate_json(
            await read_body(request, ctx.settings.body_read_timeout_s))
        check_keys(given.keys.p256dh, given.keys.auth)
    except (ValidationError, ValueError) as exc:
        raise ProblemError(422, "wallet.subscription", "Not a push subscription",
                           f"expected a W3C PushSubscription with optional country and "
                           f"languages, and nothing else: {exc}") from exc
    try:
        check_endpoint(given.endpoint, ctx.settings.wallet_push_hosts,
                       demo=ctx.settings.demo)
    except ValueError as exc:
        raise ProblemError(422, "wallet.push-host", "Unknown push service", str(exc)) from exc
    return NewWalletSubscription(given.endpoint, given.keys.p256dh.rstrip("="),
                                 given.keys.auth.rstrip("="), given.country,
                                 tuple(given.languages))


def _audience(ctx: IngestContext) -> AudienceStore:
    if ctx.audience is None:
        raise ProblemError(404, "wallet.disabled", "Wallet push is not enabled",
                           "this Tocsin keeps no subscriptions")
    return ctx.audience


def _store_down(exc: StoreUnavailableError) -> ProblemError:
    return ProblemError(503, "store.unavailable", "Store unavailable", str(exc),
                        headers={"Retry-After": "1"})


async def post_subscription(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    new = await _given(request)
    try:
        saved = await _audience(ctx).save_wallet_subscription(new)
    except StoreUnavailableError as exc:
        raise _store_down(exc) from exc
    if saved.id is None:
        raise ProblemError(409, "wallet.subscription-exists", "Endpoint subscribed already",
                           "this endpoint is subscribed with other keys; renew them with "
                           f"PUT {SUBSCRIPTIONS_PATH}/<id> (the id the first subscription "
                           "returned), or subscribe a new endpoint")
    location = f"{SUBSCRIPTIONS_PATH}/{saved.id}"
    return web.Response(status=201 if saved.created else 200,
                        body=SubscriptionOut(id=saved.id).model_dump_json(),
                        content_type="application/json", headers={"Location": location})


async def put_subscription(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    subscription_id = request.match_info["subscription_id"]
    new = await _given(request)
    try:
        renewed = await _audience(ctx).renew_wallet_subscription(subscription_id, new)
    except StoreUnavailableError as exc:
        raise _store_down(exc) from exc
    if not renewed:
        raise ProblemError(404, "wallet.subscription-not-found", "No such subscription",
                           "no subscription with that id and endpoint (a new endpoint is a "
                           "new subscription: POST it)")
    return web.Response(body=SubscriptionOut(id=subscription_id).model_dump_json(),
                        content_type="application/json")


async def delete_subscription(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    subscription_id = request.match_info["subscription_id"]
    if not await _audience(ctx).delete_wallet_subscription(subscription_id):
        raise ProblemError(404, "wallet.subscription-not-found", "No such subscription",
                           "no subscription with that id (already deleted?)")
    return web.Response(status=204)


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
    document = parse_cap(raw).document if raw else None
    if raw is None or document is None:
        raise ProblemError(404, "wallet.document-not-found", "No such wallet alert",
                           f"alert {alert_id!r} no longer parses")
    delivery = Delivery(alert_id=alert_id, channel=channel, idempotency_key=key,
                        alert=document.alert, raw=raw,
                        variants=await stored_variants(ctx.store, alert_id))
    return web.Response(text=publisher.signed_document(delivery),
                        content_type="application/jose",
                        headers={"Cache-Control": "public, max-age=60"})


async def get_asset(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    alert_id, name = request.match_info["alert_id"], request.match_info["name"]
    await _served(request)
    asset = next((a for a in await ctx.store.assets(alert_id) if a.name == name), None)
    path = ctx.settings.data_dir / "assets" / alert_id / name
    if asset is None or not path.is_file():
        raise ProblemError(404, "asset.not-found", "No such asset",
                           f"alert {alert_id!r} has no asset {name!r}")
    return web.FileResponse(path, headers={
        "Content-Type": asset.mime_type, "ETag": f'"{asset.sha256}"',
        "Cache-Control": "public, max-age=3600"})
