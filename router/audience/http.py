"""The wallet subscription API: the audience's own routes, served from the package
that owns who can be reached.

Stage: audience (HTTP). It uses the audience store and the HTTP plumbing
(``router.http``) and nothing of the alert API; ``router.ingest.routes`` registers
``ENDPOINTS`` and documents them with the other routes. None of them takes an API
key: phones call them.

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
- ``DELETE /api/v1/wallet/subscriptions/{subscription_id}``: 204, or 404.
- The subscription routes are rate limited per client address
  (``subscription_rate_limit``; 429 with ``Retry-After``): see ``router.ingest.throttle``.

The signed documents and keys a wallet fetches are alerts, not audience: they stay
with the alert API (``router.ingest.wallet``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from router.audience.base import AudienceStore
from router.audience.records import NewWalletSubscription
from router.audience.subscription_checks import LanguageTag, check_endpoint, check_keys
from router.channel import Channel, DocumentPublisher
from router.errors import StoreUnavailableError
from router.http.body import read_body
from router.http.endpoints import Endpoint
from router.http.problems import Problem, ProblemError

SUBSCRIPTIONS_PATH = "/api/v1/wallet/subscriptions"


@dataclass(frozen=True)
class SubscriptionDesk:
    """What the subscription routes need, set on the application by ``router.app``."""

    audience: AudienceStore | None
    """None: a service that keeps no subscriptions (every route answers 404)."""
    body_read_timeout_s: float
    push_hosts: tuple[str, ...]
    """``wallet_push_hosts``: the push services an endpoint may point at."""
    demo: bool = False
    """Demo mode also takes the loopback mock push service."""
    channels: Mapping[str, Channel] = field(default_factory=dict)
    """The configured channels: subscribing needs a wallet (document-publishing) one."""


DESK = web.AppKey("tocsin.audience.subscriptions", SubscriptionDesk)


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


def wallet_disabled() -> ProblemError:
    """The answer of every wallet route on a Tocsin without a wallet channel."""
    return ProblemError(404, "wallet.disabled", "Wallet push is not enabled",
                        "no eudi_wallet channel is configured on this Tocsin")


def _desk(request: web.Request) -> SubscriptionDesk:
    return request.app[DESK]


async def _given(request: web.Request) -> NewWalletSubscription:
    """The posted subscription once every check passed (422 with the first problem)."""
    desk = _desk(request)
    if not any(isinstance(c, DocumentPublisher) for c in desk.channels.values()):
        raise wallet_disabled()
    try:
        given = SubscriptionIn.model_validate_json(
            await read_body(request, desk.body_read_timeout_s))
        check_keys(given.keys.p256dh, given.keys.auth)
    except (ValidationError, ValueError) as exc:
        raise ProblemError(422, "wallet.subscription", "Not a push subscription",
                           f"expected a W3C PushSubscription with optional country and "
                           f"languages, and nothing else: {exc}") from exc
    try:
        check_endpoint(given.endpoint, list(desk.push_hosts), demo=desk.demo)
    except ValueError as exc:
        raise ProblemError(422, "wallet.push-host", "Unknown push service", str(exc)) from exc
    return NewWalletSubscription(given.endpoint, given.keys.p256dh.rstrip("="),
                                 given.keys.auth.rstrip("="), given.country,
                                 tuple(given.languages))


def _audience(request: web.Request) -> AudienceStore:
    audience = _desk(request).audience
    if audience is None:
        raise ProblemError(404, "wallet.disabled", "Wallet push is not enabled",
                           "this Tocsin keeps no subscriptions")
    return audience


def _store_down(exc: StoreUnavailableError) -> ProblemError:
    return ProblemError(503, "store.unavailable", "Store unavailable", str(exc),
                        headers={"Retry-After": "1"})


async def post_subscription(request: web.Request) -> web.Response:
    new = await _given(request)
    try:
        saved = await _audience(request).save_wallet_subscription(new)
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
    subscription_id = request.match_info["subscription_id"]
    new = await _given(request)
    try:
        renewed = await _audience(request).renew_wallet_subscription(subscription_id, new)
    except StoreUnavailableError as exc:
        raise _store_down(exc) from exc
    if not renewed:
        raise ProblemError(404, "wallet.subscription-not-found", "No such subscription",
                           "no subscription with that id and endpoint (a new endpoint is a "
                           "new subscription: POST it)")
    return web.Response(body=SubscriptionOut(id=subscription_id).model_dump_json(),
                        content_type="application/json")


async def delete_subscription(request: web.Request) -> web.Response:
    subscription_id = request.match_info["subscription_id"]
    if not await _audience(request).delete_wallet_subscription(subscription_id):
        raise ProblemError(404, "wallet.subscription-not-found", "No such subscription",
                           "no subscription with that id (already deleted?)")
    return web.Response(status=204)


_SUBSCRIPTION_ID = {"name": "subscription_id", "in": "path", "required": True,
                    "schema": {"type": "string"}}

ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", SUBSCRIPTIONS_PATH, post_subscription,
             "Subscribe a wallet app to alert pushes: a W3C PushSubscription, optional "
             "country and languages; no identity, location or device id is accepted",
             {201: (SubscriptionOut, "subscribed"),
              200: (SubscriptionOut, "this endpoint was subscribed with these keys"),
              404: (Problem, "no wallet channel configured"),
              409: (Problem, "this endpoint is subscribed with other keys; renew with PUT"),
              422: (Problem, "not a PushSubscription, extra members, a key off the curve, "
                             "or an endpoint that is not an allowed push host and port"),
              429: (Problem, "too many subscription calls from this address; Retry-After"),
              503: (Problem, "store unavailable; retry")},
             authenticated=False, json_body=SubscriptionIn),
    Endpoint("PUT", SUBSCRIPTIONS_PATH + "/{subscription_id}", put_subscription,
             "Renew a subscription's keys: the same endpoint with new keys, proved by the "
             "id the subscription returned",
             {200: (SubscriptionOut, "keys renewed"),
              404: (Problem, "no subscription with that id and endpoint"),
              422: (Problem, "not a valid PushSubscription"),
              429: (Problem, "too many subscription calls from this address; Retry-After"),
              503: (Problem, "store unavailable; retry")},
             authenticated=False, json_body=SubscriptionIn,
             parameters=[_SUBSCRIPTION_ID]),
    Endpoint("DELETE", SUBSCRIPTIONS_PATH + "/{subscription_id}", delete_subscription,
             "Unsubscribe (with the id the subscription returned)",
             {204: (None, "deleted"), 404: (Problem, "no such subscription"),
              429: (Problem, "too many subscription calls from this address; Retry-After")},
             authenticated=False, parameters=[_SUBSCRIPTION_ID]),
]
"""The audience's routes, in the order the OpenAPI document lists them."""
