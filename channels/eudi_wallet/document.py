"""The signed alert document a phone receives, and the small "tickle" that points to it.

Stage: channel adapter (pure). The document is JSON, signed as a compact JWS
(``channels.eudi_wallet.jws``). Members, version ``v: 1``:

- ``typ``: ``alert`` (the full document) or ``tickle`` (fetch the full one from ``fetch``);
- ``iss`` (the operator's issuer id), ``iat`` (signing time, Unix seconds), ``topic``;
- the CAP message: ``cap_identifier``, ``sender``, ``sent``, ``status``, ``msg_type``,
  ``references`` (``"sender,identifier,sent"`` strings as CAP writes them, each
  time with the offset the authority wrote: never rewritten to UTC);
- from the first ``<info>``: ``event``, ``severity``, ``urgency``, ``certainty``;
  ``expires`` is the latest ``<expires>`` of all infos (null: no end given);
- ``variants``: per language, ``lang``, ``headline`` and the accessible ``text``
  (``delivery.variants`` from ``router.render``, else ``PlainVariants``);
- ``area``: simplified polygons and circles (``channels.eudi_wallet.area``);
- ``assets``: ``kind``, ``mime``, ``url``, ``desc``, ``lang``, ``sha256``, ``sha1``,
  ``size``, ``duration_s`` of each
  - spoken audio Tocsin made (``kind: audio``, ``lang`` set, ``sha256`` always),
    when it exists at signing time and the channel has a public URL to name: the
    assets in ``delivery.variants`` (``router.channel.MediaVariants``), served
    at ``{public_base_url}/api/v1/wallet/alerts/{alert_id}/assets/{name}``;
  - audio and video the CAP ``<resource>`` elements link with a URL, a clip the
    rendered variants found to be sign language as ``sign_language``. Their
    ``sha256`` is ``null`` unless the alert gives a SHA-256 digest: CAP 1.2's
    ``<digest>`` is SHA-1, passed on as ``sha1``. A device plays no asset whose
    hash it cannot check;
- ``speech_pending``: true when the alert's audio was still being made at signing
  time; the document then also names ``fetch``, where the phone gets it again later
  with the audio (false with no ``fetch``: every audio there will be is listed);
- ``cap_sha256``: SHA-256 of the CAP XML exactly as received, so anyone holding
  the original can prove the phone showed that alert;
- ``alert_id``: Tocsin's id, which the fetch URL is built from.

Deliberately absent: anything about the recipient. The same bytes go to every
subscription, so the document cannot identify or locate anyone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.eudi_wallet.area import area_document
from router.channel import (
    Alert,
    Asset,
    Delivery,
    FailureReason,
    MediaVariants,
    PermanentError,
    PlainVariants,
)

VERSION = 1
_SIGN_LANGUAGE = re.compile(r"sign|gebaren|gebärden|signes|señas|segni|tegn", re.IGNORECASE)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
AssetUrl = Callable[[str], str | None]
"""The URL phones fetch a Tocsin-made asset from, by its name (None: none to give)."""


@dataclass(frozen=True)
class Utf8Budget:
    """The room for one language's text in the full document, counted in UTF-8 bytes
    (what a push payload and a phone's storage pay for)."""

    limit: int

    @property
    def name(self) -> str:
        return f"{self.limit} bytes UTF-8"

    def cost(self, text: str) -> int:
        return len(text.encode("utf-8"))


def _variants(delivery: Delivery, budget: Utf8Budget) -> list[dict[str, Any]]:
    variants = delivery.variants or PlainVariants(delivery.alert)
    headlines = {info.effective_language.lower(): info.headline or info.event
                 for info in reversed(delivery.alert.infos)}
    out = []
    for language in variants.languages:
        fitted = variants.fit(language, budget)
        if not fitted.fits:
            raise PermanentError(
                f"the {language} text is {fitted.cost} bytes, {fitted.overflow} over the "
                f"wallet document's {budget.name}", FailureReason.TOO_LONG)
        out.append({"lang": language, "headline": headlines.get(language.lower()),
                    "text": fitted.text})
    return out


def _asset(resource: Any) -> dict[str, Any] | None:
    """A CAP ``<resource>`` (``router.cap.model.Resource``) as a document asset."""
    top = resource.mime_type.split("/", 1)[0].lower()
    if resource.uri is None or top not in {"audio", "video"}:
        return None
    digest = (resource.digest or "").strip()
    hexadecimal = bool(_HEX.match(digest))
    kind = "audio" if top == "audio" else (
        "sign_language" if _SIGN_LANGUAGE.search(resource.resource_desc) else "video")
    return {"kind": kind, "mime": resource.mime_type, "url": resource.uri,
            "desc": resource.resource_desc, "size": resource.size,
            "sha256": digest.lower() if hexadecimal and len(digest) == 64 else None,
            "sha1": digest.lower() if hexadecimal and len(digest) == 40 else None}


def _cap_assets(alert: Alert) -> list[dict[str, Any]]:
    found = (_asset(r) for info in alert.infos for r in info.resources)
    unique = {a["url"]: a for a in found if a is not None}
    return list(unique.values())


def _media(asset: Asset, url: str) -> dict[str, Any]:
    return {"kind": asset.kind, "mime": asset.mime_type, "url": url,
            "desc": asset.description, "lang": asset.language, "sha256": asset.sha256,
            "sha1": asset.sha1, "size": asset.size, "duration_s": asset.duration_s}


def _assets(delivery: Delivery, asset_url: AssetUrl) -> list[dict[str, Any]]:
    """Tocsin's audio first (each language's spoken alert), then what the CAP links;
    a clip the rendered variants call sign language is marked so."""
    media = delivery.variants
    known: tuple[Asset, ...] = media.assets if isinstance(media, MediaVariants) else ()
    made = [(asset, asset_url(asset.name)) for asset in known if asset.name]
    out = [_media(asset, url) for asset, url in made if url is not None]
    signed = {asset.uri for asset in known if asset.kind == "sign_language"}
    for linked in _cap_assets(delivery.alert):
        if linked["url"] in signed:
            linked["kind"] = "sign_language"
        out.append({"lang": None, "duration_s": None, **linked})
    return out


def _nowhere(_name: str) -> None:
    return None


def speech_pending(delivery: Delivery) -> bool:
    media = delivery.variants
    return isinstance(media, MediaVariants) and media.speech_pending


def _latest_expiry(alert: Alert) -> str | None:
    expiries = [info.expires for info in alert.infos]
    if not expiries or any(value is None for value in expiries):
        return None
    return max(value for value in expiries if value is not None).isoformat()


def _reference_text(sender: str, identifier: str, sent: datetime) -> str:
    """A reference as the authority wrote it: ``sent`` keeps its own offset (a phone
    shows the time as it was sent; only the push Topic hashes keys in UTC)."""
    return f"{sender},{identifier},{sent.isoformat(timespec='seconds')}"


def _header(delivery: Delivery, kind: str, issuer: str, topic: str,
            now: datetime) -> dict[str, Any]:
    alert = delivery.alert
    first = alert.infos[0] if alert.infos else None
    return {
        "v": VERSION, "typ": kind, "iss": issuer, "iat": int(now.timestamp()),
        "topic": topic, "alert_id": delivery.alert_id,
        "cap_identifier": alert.identifier, "sender": alert.sender,
        "sent": alert.sent.isoformat(), "status": alert.status.value,
        "msg_type": alert.msg_type.value,
        "references": [_reference_text(r.sender, r.identifier, r.sent)
                       for r in alert.references or ()],
        "event": first.event if first else None,
        "severity": first.severity.value if first else None,
        "urgency": first.urgency.value if first else None,
        "certainty": first.certainty.value if first else None,
        "expires": _latest_expiry(alert),
    }


def full_document(delivery: Delivery, *, issuer: str, topic: str, now: datetime,
                  max_vertices: int, text_budget: Utf8Budget,
                  asset_url: AssetUrl | None = None, fetch_url: str | None = None
                  ) -> dict[str, Any]:
    """``asset_url`` names Tocsin's own files (without it they are left out: a phone
    could not fetch them); ``fetch_url`` is where this document is served (named when
    speech is pending)."""
    pending = speech_pending(delivery) and fetch_url is not None
    return {
        **_header(delivery, "alert", issuer, topic, now),
        "variants": _variants(delivery, text_budget),
        "area": area_document(delivery.alert, max_vertices),
        "assets": _assets(delivery, asset_url or _nowhere),
        "speech_pending": pending,
        **({"fetch": fetch_url} if pending else {}),
        "cap_sha256": hashlib.sha256(delivery.raw).hexdigest(),
    }


def tickle(full: dict[str, Any], fetch_url: str, *, with_area: bool) -> dict[str, Any]:
    """The small message sent instead of a document too large for one push: the
    CAP key, the headline facts and (when it fits) the area, so a phone outside
    the area need not even fetch."""
    kept = {key: value for key, value in full.items()
            if key not in {"variants", "assets", "cap_sha256", "area", "speech_pending"}}
    return {**kept, "typ": "tickle", "fetch": fetch_url,
            **({"area": full["area"]} if with_area else {})}
