"""Configuration of an ``eudi_wallet`` channel instance.

Stage: channel adapter. Keys are files (PEM, EC P-256): ``signing_key_file``
signs the alert documents (published as the JWKS), ``vapid_key_file`` is the
application-server key devices subscribe with. ``published_key_files`` are
further keys the JWKS lists during a signing-key rollover. All must exist; the channel
never makes a key of its own (``channels.mock.demo`` writes throw-away keys for
``tocsin serve --demo`` and logs that it did).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from channels.eudi_wallet.webpush import MAX_PLAINTEXT, Subscription

FOUR_WEEKS_S = 28 * 24 * 3600


class WalletConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signing_key_file: Path
    published_key_files: list[Path] = Field(
        default_factory=list, max_length=4,
        description="PEM files (public or private EC P-256 keys) published in the JWKS "
                    "beside the signing key, never signing: during a rollover the next "
                    "key (before switching) or the previous one (after); "
                    "docs/eudi-wallet.md 'Rotating the signing key'")
    vapid_key_file: Path
    vapid_subject: str = Field(
        pattern=r"^(mailto:[^@\s]+@[^@\s]+|https://\S+)$",
        description="RFC 8292 contact for push services: mailto: or https: URL")
    issuer: str = Field(default="tocsin", min_length=1,
                        description="the ``iss`` of every document (the operator's name/URL)")
    public_base_url: str | None = Field(
        default=None, pattern=r"^https?://[^/\s]+(/\S*)?$",
        description="where devices reach this Tocsin; needed for tickles (documents "
                    "over one push): <base>/api/v1/wallet/alerts/<id>")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$",
                                description="send only to subscriptions for this country "
                                            "(or that named none)")
    ttl_max_s: int = Field(default=24 * 3600, ge=60, le=FOUR_WEEKS_S)
    concurrency: int = Field(default=64, ge=1, le=1024, description="pushes in flight")
    batch_size: int = Field(default=500, ge=1, le=10_000,
                            description="recipients read and recorded per batch")
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    max_vertices: int = Field(default=48, ge=4, le=1000, description="per polygon")
    text_limit_bytes: int = Field(default=8000, ge=100,
                                  description="per language in the full document")
    max_payload_bytes: int = Field(default=MAX_PLAINTEXT, ge=512, le=MAX_PLAINTEXT)
    health_url: str | None = Field(
        default=None, pattern=r"^https?://",
        description="a URL of the main push service to probe for health()")
    devices: list[dict[str, Any]] = Field(
        default_factory=list, max_length=1000,
        description="PushSubscriptions (test handsets) that get every alert besides the "
                    "subscribers; all a delivery without an Audience reaches")
    journal: Path | None = Field(default=None, description="outcomes file for `devices`")

    @model_validator(mode="after")
    def _devices_need_a_journal(self) -> WalletConfig:
        if self.devices and self.journal is None:
            raise ValueError("`devices` needs a `journal` file to remember who was sent what")
        for number, device in enumerate(self.devices):
            try:
                Subscription.from_json(device).validate()
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"devices[{number}] is not a PushSubscription: {exc}") from exc
        return self
