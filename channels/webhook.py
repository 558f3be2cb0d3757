"""``webhook`` channel: a signed JSON POST to a URL.

The body is the alert's essentials as JSON plus the CAP XML as received. The
receiver authenticates it with HMAC-SHA256 over ``"{timestamp}.{body}"``:

    X-Tocsin-Timestamp: 1764064800
    X-Tocsin-Signature: sha256=<hex>
    Idempotency-Key: <stable per alert and channel>

(the Stripe/Standard-Webhooks pattern: the timestamp lets a receiver refuse
replays). Outcomes: 2xx delivered (``{"duplicate": true}`` in the answer marks a
repeat the receiver recognised by its Idempotency-Key); 408, 425, 429, 5xx,
timeouts and connection errors are transient; other 4xx are permanent.

Configuration: ``url`` (required), ``secret`` or ``secret_env`` (the name of an
environment variable holding it; required), ``timeout_s`` (default 5).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, model_validator

from channels.http_client import HttpClient, RedirectRefusedError
from router.channel import (
    AreaKind,
    Capabilities,
    Delivery,
    FailureReason,
    Health,
    PermanentError,
    Receipt,
    TransientError,
)

_TRANSIENT_STATUSES = {408, 425, 429}


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://")
    secret: str | None = None
    secret_env: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=120)

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookConfig:
        if not self.secret and not self.secret_env:
            raise ValueError("a webhook needs `secret` or `secret_env` to sign its requests")
        if self.secret_env and self.secret_env not in os.environ:
            raise ValueError(f"environment variable {self.secret_env} (secret_env) is not set")
        return self

    def key(self) -> bytes:
        return (self.secret or os.environ[self.secret_env or ""]).encode()


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature a receiver recomputes to check a request came from Tocsin."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()


def payload(delivery: Delivery, kind: str) -> dict[str, Any]:
    alert = delivery.alert
    return {
        "type": kind,
        "alert_id": delivery.alert_id,
        "idempotency_key": delivery.idempotency_key,
        "replaces": delivery.replaces.reference if delivery.replaces else None,
        "sender": alert.sender, "identifier": alert.identifier,
        "sent": alert.sent.isoformat(), "status": alert.status.value,
        "msg_type": alert.msg_type.value,
        "infos": [{
            "language": info.effective_language, "event": info.event,
            "urgency": info.urgency.value, "severity": info.severity.value,
            "certainty": info.certainty.value, "headline": info.headline,
            "description": info.description, "instruction": info.instruction,
            "expires": info.expires.isoformat() if info.expires else None,
            "areas": [area.area_desc for area in info.areas],
        } for info in alert.infos],
        "cap": delivery.raw.decode("utf-8", errors="replace"),
    }


class WebhookChannel:
    capabilities = Capabilities(area_kinds=frozenset({AreaKind.NONE}), supports_update=True,
                                supports_cancel=True, public=True)

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        self.name = name
        self.config = WebhookConfig.model_validate(config)
        self._http = HttpClient("the webhook channel", self.config.timeout_s)

    async def start(self) -> None:
        await self._http.start()

    async def close(self) -> None:
        await self._http.close()

    async def _post(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        session = self._http.session
        data = json.dumps(body, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key,
                   "X-Tocsin-Timestamp": timestamp,
                   "X-Tocsin-Signature": sign(self.config.key(), timestamp, data)}
        try:
            async with session.post(self.config.url, data=data,
                                          headers=headers) as response:
                text = await response.text()
                status = response.status
        except TimeoutError as exc:
            raise TransientError(f"{self.config.url}: no answer within "
                                 f"{self.config.timeout_s} s", FailureReason.TIMEOUT) from exc
        except RedirectRefusedError as exc:  # a redirect is the receiver's configuration
            raise PermanentError(f"{self.config.url} answered {exc.status}, {exc.message}; "
                                 "Tocsin posts to the configured URL only",
                                 FailureReason.REJECTED) from exc
        except aiohttp.ClientError as exc:
            raise TransientError(f"{self.config.url}: {exc}", FailureReason.UNAVAILABLE) from exc
        if 200 <= status < 300:
            try:
                answer = json.loads(text) if text else {}
            except json.JSONDecodeError:
                answer = {}
            return answer if isinstance(answer, dict) else {}
        message = f"{self.config.url} answered {status}: {text[:200]}"
        if status in _TRANSIENT_STATUSES or status >= 500:
            raise TransientError(message, FailureReason.OVERLOADED if status == 429
                                 else FailureReason.UNAVAILABLE)
        raise PermanentError(message, FailureReason.REJECTED)

    async def send(self, delivery: Delivery) -> Receipt:
        kind = "update" if delivery.replaces else "alert"
        answer = await self._post(payload(delivery, kind), delivery.idempotency_key)
        return Receipt(self.name, delivery.idempotency_key,
                       reference=str(answer.get("id", delivery.idempotency_key)),
                       detail=answer, duplicate=bool(answer.get("duplicate", False)))

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:
        body = {**payload(delivery, "cancel"), "cancels": receipt.reference}
        await self._post(body, delivery.idempotency_key + "/cancel")

    async def health(self) -> Health:
        if not self._http.started:
            return Health(False, "not started")
        try:
            async with self._http.session.head(self.config.url) as response:
                return Health(True, f"{self.config.url} answers ({response.status})")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Health(False, f"{self.config.url}: {exc or type(exc).__name__}")
