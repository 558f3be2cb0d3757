"""``galileo_ewss`` channel: CAP alerts as 122-bit CAMF messages for the Galileo
Emergency Warning Satellite Service, the fallback when terrestrial networks fail.

Stage: channel adapter (imports the public contract only). ``send`` maps the alert
(``mapping``), fits the area into one ellipse (``geometry``), encodes (``camf``)
and submits every message through an ``Uplink`` (``transport``). What went out is
kept in the receipt: per message the hex bits, the decoded ellipse and the
over-warning ratio (ellipse area / alert area), plus ``metrics.ewss_messages``.

A CAMF broadcast cannot be withdrawn. With ``cancel_as_all_clear: true`` in the
tables the channel supports cancel by broadcasting an All Clear for what the
receipt says was sent; otherwise ``cancel`` is refused (``REJECTED``) and a CAP
Cancel is skipped.

Configuration: ``url`` (the uplink, required), ``tables_file`` (default
``config/galileo_ewss/tables.yaml``), ``encoding`` (``hex`` | ``base64``, default
``hex``), ``timeout_s`` (default 5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from channels.galileo_ewss import camf, geometry, mapping
from channels.galileo_ewss.display import receiver_view
from channels.galileo_ewss.settings import EwssConfig, load_tables
from channels.galileo_ewss.transport import HttpUplink, Uplink, UplinkAnswer, UplinkMessage
from router.cap import Alert
from router.channel import (
    AreaKind,
    Capabilities,
    Delivery,
    FailureReason,
    Health,
    NotApplicableError,
    PermanentError,
    PreviewForm,
    Receipt,
    Variants,
)


def message_keys(key: str, count: int) -> list[str]:
    """One idempotency key per message: the delivery's own when there is one message."""
    return [key] if count == 1 else [f"{key}#{n}" for n in range(1, count + 1)]


class GalileoEwssChannel:
    def __init__(self, name: str, config: Mapping[str, Any], *, uplink: Uplink | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.name = name
        self.config = EwssConfig.model_validate(config)
        self.tables = load_tables(self.config.tables_file)
        self.capabilities = Capabilities(
            area_kinds=frozenset({AreaKind.POLYGON, AreaKind.CIRCLE}), supports_update=True,
            supports_cancel=self.tables.cancel_as_all_clear, public=True,
            preview=self.preview)
        self.uplink: Uplink = uplink or HttpUplink(
            self.config.url, encoding=self.config.encoding, timeout_s=self.config.timeout_s)
        self._clock = clock or (lambda: datetime.now(UTC))

    def preview(self, alert: Alert, variants: Variants) -> list[PreviewForm]:
        """What ``send`` broadcasts, before it does: the same ``mapping.plan``, each CAMF
        message read back from its encoded bits as a receiver reads them, with the
        decoded ellipse (its outline for the console's map) and the over-warning ratio
        the receipt will record. An alert EWSS does not carry says why instead."""
        budget = "one CAMF message per language (122 bits: codes, no free text)"
        try:
            plan = mapping.plan(alert, self.tables, self._clock())
        except (NotApplicableError, PermanentError) as exc:
            return [PreviewForm("main", tuple(variants.languages[:1]), "", budget, 0, 0,
                                error=str(exc))]
        forms = []
        for planned in plan.messages:
            received = camf.decode(camf.encode(planned.message))
            forms.append(PreviewForm(
                "main", (alert.infos[planned.info_index].effective_language,),
                receiver_text(receiver_view(received)), budget, 0, 0, segments=1,
                notes=self._overwarning_note(planned.coverage),
                ellipse=ellipse_shown(received, planned.coverage,
                                      self.tables.overwarning_warn_ratio)))
        return forms

    def _overwarning_note(self, coverage: geometry.Coverage) -> tuple[tuple[str, str], ...]:
        ratio = coverage.overwarning_ratio
        if ratio is None or ratio <= self.tables.overwarning_warn_ratio:
            return ()
        return (("ewss.overwarning", f"the ellipse covers {ratio:.1f} times the alert's "
                 f"area (warned above {self.tables.overwarning_warn_ratio:g})"),)

    async def start(self) -> None:
        await self.uplink.start()

    async def close(self) -> None:
        await self.uplink.close()

    async def health(self) -> Health:
        """The uplink's answer, naming the uplink (``facts``) for the dashboard."""
        link = await self.uplink.health()
        return replace(link, facts={"uplink": self.config.url, **link.facts})

    async def send(self, delivery: Delivery) -> Receipt:
        # fitting and verifying ellipses is CPU work (tens of ms for national polygons):
        # off the event loop, so other channels' deliveries and the API keep moving
        plan = await asyncio.to_thread(mapping.plan, delivery.alert, self.tables, self._clock())
        keys = message_keys(delivery.idempotency_key, len(plan.messages))
        entries: list[dict[str, Any]] = []
        answers: list[UplinkAnswer] = []
        for key, planned in zip(keys, plan.messages, strict=True):
            ratio = planned.coverage.overwarning_ratio
            answer = await self.uplink.submit(UplinkMessage(key, camf.encode(planned.message), {
                "alert_id": delivery.alert_id, "sender": delivery.alert.sender,
                "identifier": delivery.alert.identifier, "info": planned.info_index + 1,
                "overwarning_ratio": ratio}))
            answers.append(answer)
            entries.append(self._entry(key, planned, answer))
        ratios = [e["overwarning_ratio"] for e in entries if e["overwarning_ratio"] is not None]
        worst = max(ratios) if ratios else None
        detail = {
            "messages": entries, "overwarning_ratio": worst,
            "overwarning_warning": worst is not None and worst > self.tables.overwarning_warn_ratio,
            "left_out": list(plan.left_out),
            "metrics": {"ewss_messages": sum(1 for a in answers if not a.duplicate)}}
        return Receipt(self.name, delivery.idempotency_key,
                       reference=",".join(a.reference for a in answers), detail=detail,
                       duplicate=all(a.duplicate for a in answers))

    @staticmethod
    def _entry(key: str, planned: mapping.Planned, answer: UplinkAnswer) -> dict[str, Any]:
        coverage = planned.coverage
        return {"idempotency_key": key, "uplink_id": answer.reference,
                "camf_hex": camf.encode(planned.message).hex(), "info": planned.info_index + 1,
                "overwarning_ratio": coverage.overwarning_ratio,
                "alert_area_km2": coverage.alert_area_km2,
                "ellipse_area_km2": coverage.ellipse_area_km2,
                "shown": receiver_view(planned.message)}

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:
        """Broadcast an All Clear for each message the receipt says went out."""
        if not self.capabilities.supports_cancel:
            raise PermanentError("a satellite broadcast cannot be withdrawn; set "
                                 "cancel_as_all_clear: true in the EWSS tables to send an "
                                 "All Clear instead", FailureReason.REJECTED)
        sent = [m.get("camf_hex") for m in receipt.detail.get("messages", ())
                if isinstance(m, Mapping)]
        if not sent or not all(isinstance(h, str) for h in sent):
            raise PermanentError("the receipt names no CAMF message to clear",
                                 FailureReason.REJECTED)
        keys = message_keys(f"{delivery.idempotency_key}/cancel", len(sent))
        for key, hex_bits in zip(keys, sent, strict=True):
            clear = all_clear(camf.decode(bytes.fromhex(str(hex_bits))))
            await self.uplink.submit(UplinkMessage(key, camf.encode(clear), {
                "alert_id": delivery.alert_id, "clears": receipt.reference}))


def receiver_text(shown: Mapping[str, Any]) -> str:
    """The receiver's screen as lines: hazard and severity, the guidance, onset and
    duration (the English abbreviations of the code tables; a receiver shows its own
    library's texts in its own language)."""
    guidance = shown["guidance"]
    lines = [f"{shown['hazard']['name']} ({shown['severity']})"]
    if guidance.get("library") == "international":
        lines += [str(part["text"]) for part in (guidance["a"], guidance["b"]) if part["text"]]
    else:
        lines.append(f"country guidance #{guidance['code']}")
    onset = shown["onset"]["text"]
    lines.append(f"onset {onset}" if onset else "onset now")
    lines.append(f"duration {shown['duration']}")
    return "\n".join(lines)


def ellipse_shown(received: camf.CamfMessage, coverage: geometry.Coverage,
                  warn_ratio: float) -> dict[str, Any]:
    """The ellipse receivers reconstruct from the bits, for the map."""
    ellipse = camf.ellipse(received)
    ratio = coverage.overwarning_ratio
    return {"latitude": ellipse.latitude, "longitude": ellipse.longitude,
            "semi_major_km": ellipse.semi_major_km, "semi_minor_km": ellipse.semi_minor_km,
            "azimuth_deg": ellipse.azimuth_deg,
            "outline": [[round(lat, 5), round(lon, 5)]
                        for lat, lon in geometry.ellipse_outline(ellipse)],
            "ellipse_area_km2": coverage.ellipse_area_km2,
            "alert_area_km2": coverage.alert_area_km2, "overwarning_ratio": ratio,
            "overwarning_warning": ratio is not None and ratio > warn_ratio}


def all_clear(message: camf.CamfMessage) -> camf.CamfMessage:
    """The All Clear for a message: same hazard and area, "conditions improved" (A31)."""
    return replace(message, message_type=camf.MessageType.ALL_CLEAR, onset_next_week=False,
                   onset_minute=0, duration=camf.Duration.UNKNOWN,
                   library=camf.Library.INTERNATIONAL, instructions=camf.instructions(31, 0))
