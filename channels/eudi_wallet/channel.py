"""``eudi_wallet`` channel: authenticated, end-to-end encrypted Web Push to wallet apps.

Stage: channel adapter. A stub for a wallet warning inbox that no EU service
offers yet (ARF v3.0.0 has none), built only on published standards: RFC 8030
Web Push, RFC 8291 message encryption, RFC 8292 VAPID, RFC 7515 JWS.

Per delivery: one document is built and signed (``document``, ``jws``); if the
signed token is larger than one push can carry, a signed tickle with a fetch URL
is sent instead and Tocsin serves the full document at that URL. The same token
then goes, encrypted separately, to every subscription in the delivery's
``Audience`` (the store's wallet subscriptions, attached by the dispatcher because
``Capabilities.recipients`` is ``wallet``, or ``wallet:NL`` with ``country: NL``): no
subscription says where its phone is, so every phone gets every alert for its
country and decides with its own position whether to show it.

The document's text is ``delivery.variants`` (the stored accessible variants) and
its audio is what the speech worker made before the hand-over; the fetch route
builds the document from the same stored variants, so a fetched document says what
the push said (plus any audio made since: see ``document``).

A retry or a restart sends only to subscriptions not yet reached (the audience
records each outcome); a 404/410 deletes the subscription. A subscription that
cannot be sent to, or raises anything while being encrypted to or sent to, ends
``failed`` with a reason and never fails the delivery: the others' outcomes are
recorded with it, so no retry sends them the alert again. Cancel sends the
signed Cancel under the original's Topic: a push service drops a predecessor it
still holds, and phones that showed it withdraw it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog
from pydantic import ValidationError

from channels.eudi_wallet import headers as rules
from channels.eudi_wallet import jws
from channels.eudi_wallet.config import WalletConfig
from channels.eudi_wallet.document import Utf8Budget, full_document, tickle
from channels.eudi_wallet.journal import DeviceJournal
from channels.eudi_wallet.keys import SigningKey, load_private_key, load_public_key
from channels.eudi_wallet.push import PushHeaders, push
from channels.eudi_wallet.webpush import Subscription, VapidSigner
from channels.http_client import HttpClient
from router.channel import (
    Alert,
    AreaKind,
    Audience,
    Capabilities,
    Delivery,
    FailureReason,
    Health,
    MsgType,
    NotApplicableError,
    PermanentError,
    Receipt,
    Recipient,
    RecipientOutcome,
    RecipientResult,
    TransientError,
)

RECIPIENTS = "wallet"
FETCH_PATH = "/api/v1/wallet/alerts/{alert_id}"
ASSET_PATH = FETCH_PATH + "/assets/{name}"
log = structlog.get_logger("tocsin.channel.eudi_wallet")
MAX_SERVICES = 64  # push service hosts remembered for health(): a bounded map


class WalletChannel:
    """Push to every wallet subscription; see the module docstring."""

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        self.name = name
        try:
            self.config = WalletConfig.model_validate(config)
        except ValidationError as exc:
            raise ValueError(str(exc)) from exc
        self.signing_key = SigningKey.from_private(load_private_key(self.config.signing_key_file))
        published = (SigningKey.published_only(load_public_key(path))
                     for path in self.config.published_key_files)
        self.published_keys = [key for key in published if key.kid != self.signing_key.kid]
        self.vapid = VapidSigner(load_private_key(self.config.vapid_key_file),
                                 self.config.vapid_subject)
        budget = Utf8Budget(self.config.text_limit_bytes)
        self.capabilities = Capabilities(
            area_kinds=frozenset({AreaKind.POLYGON, AreaKind.CIRCLE}), supports_update=True,
            supports_cancel=True, budget=lambda _language: budget, public=True,
            recipients=f"{RECIPIENTS}:{self.config.country}" if self.config.country
            else RECIPIENTS)
        self._budget = budget
        self._services: dict[str, dict[str, Any]] = {}
        """Push service host -> its last answer (``health().facts``): the hosts only, as
        a subscription's full endpoint is personal data."""
        self._http = HttpClient("the wallet channel", self.config.timeout_s,
                                connections=self.config.concurrency)

    # -- what Tocsin publishes for devices ------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The verification keys devices trust (served at ``/api/v1/wallet/jwks.json``):
        the signing key first, then the rollover's other keys (``published_key_files``),
        so a phone holding either JWKS verifies what either key signed."""
        return {"keys": [key.public_jwk() for key in (self.signing_key, *self.published_keys)]}

    @property
    def application_server_key(self) -> str:
        """The VAPID public key a device passes to ``pushManager.subscribe``."""
        return self.vapid.public_key

    def signed_document(self, delivery: Delivery, now: datetime | None = None) -> str:
        """The full signed document, as a tickle's fetch URL serves it."""
        document, _topic, _urgency = self._document(delivery, now or datetime.now(UTC))
        return jws.sign(document, self.signing_key)

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        await self._http.start()

    async def close(self) -> None:
        await self._http.close()

    async def health(self) -> Health:
        """The probe of ``health_url``, with each push service's last answer to a push
        (``push_services``: host, outcome, reason, when) as ``facts``."""
        facts = {"probe": self.config.health_url, "push_services": [
            {"host": host, **last} for host, last in sorted(self._services.items())]}
        if not self._http.started:
            return Health(False, "not started", facts)
        url = self.config.health_url
        if url is None:
            return Health(True, f"keys loaded (kid {self.signing_key.kid}); "
                                "no push service to probe configured", facts)
        try:
            async with self._http.session.get(url) as response:
                return Health(response.status < 500, f"{url} answers ({response.status})",
                              facts)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Health(False, f"{url}: {exc or type(exc).__name__}", facts)

    def _answered(self, endpoint: str, result: RecipientResult) -> None:
        host = urlsplit(endpoint).hostname or "?"
        if host in self._services or len(self._services) < MAX_SERVICES:
            self._services[host] = {
                "outcome": result.outcome.value,
                "reason": result.reason.value if result.reason is not None else None,
                "at": datetime.now(UTC).isoformat(timespec="seconds")}

    # -- sending --------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> Receipt:
        return await self._broadcast(delivery)

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:
        """Push a signed Cancel under the Topic of what it withdraws (``receipt``).

        From the dispatcher, ``delivery`` is the CAP Cancel itself and goes to its
        audience. Called with the original alert instead (withdrawn without a CAP
        Cancel), Tocsin signs a Cancel of its own (identifier ``<original>/cancel``)
        that reaches the configured ``devices`` only: without a CAP message the store
        has no delivery, hence no audience, for it."""
        if delivery.alert.msg_type.value == "Cancel":
            await self._broadcast(replace(delivery, replaces=delivery.replaces or receipt))
            return
        alert = delivery.alert
        withdrawal = Alert.model_validate({
            **alert.model_dump(), "identifier": f"{alert.identifier}/cancel",
            "msg_type": MsgType.CANCEL, "sent": datetime.now(UTC).replace(microsecond=0),
            "references": [{"sender": alert.sender, "identifier": alert.identifier,
                            "sent": alert.sent}]})
        await self._broadcast(replace(delivery, alert=withdrawal, replaces=receipt,
                                      audience=None,
                                      idempotency_key=delivery.idempotency_key + "/cancel"))

    def _document(self, delivery: Delivery, now: datetime) -> tuple[dict[str, Any], str, str]:
        inherited: Mapping[str, Any] = delivery.replaces.detail if delivery.replaces else {}
        topic = rules.topic(delivery.alert, _text(inherited.get("topic")))
        urgency = rules.urgency(delivery.alert, _text(inherited.get("urgency")))
        document = full_document(delivery, issuer=self.config.issuer, topic=topic, now=now,
                                 max_vertices=self.config.max_vertices,
                                 text_budget=self._budget,
                                 asset_url=lambda name: self._url(delivery, ASSET_PATH, name),
                                 fetch_url=self._url(delivery, FETCH_PATH))
        return document, topic, urgency

    def _url(self, delivery: Delivery, path: str, name: str = "") -> str | None:
        """A URL phones reach Tocsin at for this alert; None without ``public_base_url``."""
        base = self.config.public_base_url
        if base is None:
            return None
        return base.rstrip("/") + path.format(alert_id=delivery.alert_id, name=name)

    def _payload(self, delivery: Delivery, document: dict[str, Any]) -> tuple[bytes, str]:
        """The signed token to push: the document itself, or a tickle when too large."""
        token = jws.sign(document, self.signing_key).encode("ascii")
        limit = self.config.max_payload_bytes
        if len(token) <= limit:
            return token, "document"
        url = self._url(delivery, FETCH_PATH)
        if url is None:
            raise PermanentError(
                f"the signed document is {len(token)} bytes, {len(token) - limit} over one "
                "push, and no public_base_url is configured to serve it from",
                FailureReason.TOO_LONG)
        for with_area in (True, False):
            small = jws.sign(tickle(document, url, with_area=with_area),
                             self.signing_key).encode("ascii")
            if len(small) <= limit:
                return small, "tickle"
        raise PermanentError(f"even the tickle is over {limit} bytes", FailureReason.TOO_LONG)

    def _check(self, delivery: Delivery, now: datetime) -> int:
        if delivery.alert.scope.value != "Public":
            raise NotApplicableError(f"the wallet carries public alerts only, not "
                                     f"{delivery.alert.scope.value}")
        ttl = rules.ttl_seconds(delivery.alert, now, self.config.ttl_max_s)
        if ttl <= 0:
            raise PermanentError("the alert has expired; not sent", FailureReason.EXPIRED)
        return ttl

    async def _broadcast(self, delivery: Delivery) -> Receipt:
        now = datetime.now(UTC)
        ttl = self._check(delivery, now)
        document, topic, urgency = self._document(delivery, now)
        payload, kind = self._payload(delivery, document)
        session = self._http.session
        audiences = self._audiences(delivery)
        reasons: dict[str, int] = {}
        pushed, total = await self._push_all(session, audiences, payload,
                                             PushHeaders(ttl, urgency, topic), reasons)
        interrupted = next((a.interrupted for a in audiences if a.interrupted), None)
        detail = {"topic": topic, "urgency": urgency, "ttl": ttl, "kind": kind,
                  "kid": self.signing_key.kid, "bytes": len(payload),
                  "this_attempt": {o.value: n for o, n in pushed.items() if n},
                  "failed_reasons": reasons,
                  "recipients": total, "interrupted": interrupted,
                  "audio": [a["url"] for a in document["assets"] if a["kind"] == "audio"],
                  "speech_pending": document["speech_pending"],
                  "metrics": {"wallet_pushes": pushed[RecipientOutcome.SENT]}}
        log.info("wallet.pushed", topic=topic, kind=kind, bytes=len(payload),
                 this_attempt=detail["this_attempt"], interrupted=interrupted)
        _raise_for(pushed, total, reasons)
        duplicate = not any(pushed.values()) and total.get("sent", 0) > 0
        return Receipt(self.name, delivery.idempotency_key, reference=f"{topic}/{kind}",
                       detail=detail, duplicate=duplicate)

    async def _push_all(self, session: aiohttp.ClientSession, audiences: list[Audience],
                        payload: bytes, headers: PushHeaders, reasons: dict[str, int]
                        ) -> tuple[dict[RecipientOutcome, int], dict[str, int]]:
        """Outcomes of this attempt, and the recorded totals across attempts; ``reasons``
        counts this attempt's failed and gone recipients by ``FailureReason``."""
        pushed = dict.fromkeys(RecipientOutcome, 0)
        total: dict[str, int] = {}
        for audience in audiences:
            for outcome, n in (await self._fan_out(session, audience, payload,
                                                   headers, reasons)).items():
                pushed[outcome] += n
            for name, n in (await audience.counts()).items():
                total[name] = total.get(name, 0) + n
        return pushed, total

    def _audiences(self, delivery: Delivery) -> list[Audience]:
        """The subscribers (the dispatcher's ``Audience``) and the configured devices."""
        audiences: list[Audience] = [delivery.audience] if delivery.audience else []
        if self.config.devices and self.config.journal is not None:
            audiences.append(DeviceJournal(self.config.journal, self.config.devices,
                                           delivery.idempotency_key))
        if not audiences:
            raise PermanentError("no subscription list is attached to this delivery and no "
                                 "`devices` are configured", FailureReason.CONFIGURATION)
        return audiences

    async def _fan_out(self, session: aiohttp.ClientSession, audience: Audience, payload: bytes,
                       headers: PushHeaders, reasons: dict[str, int]
                       ) -> dict[RecipientOutcome, int]:
        counts = dict.fromkeys(RecipientOutcome, 0)
        slots = asyncio.Semaphore(self.config.concurrency)

        async def one(recipient: Recipient) -> RecipientResult:
            try:
                subscription = _subscription(recipient)
                if subscription is None:
                    return RecipientResult(recipient.key, RecipientOutcome.FAILED,
                                           reason=FailureReason.INVALID_INPUT)
                async with slots:
                    result = await push(session, self.vapid, subscription, payload, headers)
            except Exception as exc:  # whatever one subscription raises ends it alone
                return _failed(recipient, exc)
            answered = RecipientResult(recipient.key, result.outcome, reason=result.reason)
            self._answered(subscription.endpoint, answered)
            return answered

        async for batch in audience.batches(self.config.batch_size):
            results: Sequence[RecipientResult] = await asyncio.gather(*map(one, batch))
            await audience.record(results)
            for result in results:
                counts[result.outcome] += 1
                if result.reason is not None:
                    reasons[result.reason.value] = reasons.get(result.reason.value, 0) + 1
        return counts


def _raise_for(pushed: Mapping[RecipientOutcome, int], total: Mapping[str, int],
               reasons: Mapping[str, int]) -> None:
    """Some pushes not through (429, 5xx, timeouts): transient, only those are retried.
    Every push of the delivery so far refused *by the push service* (VAPID key,
    headers, size: the same for all) is permanent. A subscription that is itself bad
    (``invalid_input``) ends alone and never fails the delivery, nor does a refusal
    once others were reached."""
    sent, unsent = pushed[RecipientOutcome.SENT], pushed[RecipientOutcome.UNSENT]
    refused = reasons.get(FailureReason.REJECTED.value, 0)
    if refused and not sent and not unsent and not total.get(RecipientOutcome.SENT.value):
        raise PermanentError(f"the push service refused all {refused} messages (VAPID key, "
                             "headers or size)", FailureReason.REJECTED)
    if unsent:
        raise TransientError(f"{unsent} pushes did not go through and will be retried "
                             f"({sent} sent)", FailureReason.UNAVAILABLE)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _subscription(recipient: Recipient) -> Subscription | None:
    """The stored subscription, or None when it cannot be sent to (see ``push``)."""
    try:
        subscription = Subscription.from_json(json.loads(recipient.address))
        subscription.validate()
    except (ValueError, KeyError, TypeError):
        return None
    return subscription


def _failed(recipient: Recipient, exc: Exception) -> RecipientResult:
    """Whatever went wrong with one subscription (an encryption library's ValueError,
    an aiohttp refusal of the URL): that recipient is failed, the others go on. The
    message names the exception type only; the address is personal data."""
    reason = (FailureReason.INVALID_INPUT if isinstance(exc, ValueError | TypeError)
              else FailureReason.INTERNAL)
    log.warning("wallet.recipient_failed", recipient=recipient.key, reason=reason.value,
                error=type(exc).__name__)
    return RecipientResult(recipient.key, RecipientOutcome.FAILED, reason=reason)


__all__ = ["ASSET_PATH", "FETCH_PATH", "RECIPIENTS", "WalletChannel"]
