"""What a receiver would show for a CAMF message: names and texts for the codes.

Stage: channel adapter presentation (pure). Used by the mock uplink and by receipts
so an operator can read what went out without a code table at hand. A receiver
renders its own library texts in its own language; these are the English
abbreviations from ``tables``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from channels.galileo_ewss import camf
from channels.galileo_ewss.tables import (
    COUNTRIES,
    GUIDANCE_A,
    GUIDANCE_B,
    HAZARD_DETAIL_LAYOUTS,
    HAZARDS,
    hazard_category,
)

_DURATION = {camf.Duration.UNKNOWN: "unknown", camf.Duration.UNDER_6_H: "under 6 h",
             camf.Duration.FROM_6_TO_12_H: "6 to 12 h",
             camf.Duration.FROM_12_TO_24_H: "12 to 24 h"}
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def onset_text(message: camf.CamfMessage) -> str | None:
    """The onset as week day and time of the week clock, or None when not used."""
    if message.onset_minute == 0:
        return None
    minute = message.onset_minute - 1
    when = datetime(2001, 1, 1) + timedelta(minutes=minute)  # 2001-01-01 was a Monday
    week = "next week" if message.onset_next_week else "this week"
    return f"{week}, {_DAYS[minute // 1440]} {when:%H:%M}"


def _guidance(message: camf.CamfMessage) -> dict[str, Any]:
    if message.library is camf.Library.COUNTRY:
        return {"library": "country", "version": message.library_version,
                "code": message.instructions}
    return {"library": "international", "version": message.library_version,
            "a": {"code": message.guidance_a, "text": GUIDANCE_A.get(message.guidance_a)},
            "b": {"code": message.guidance_b, "text": GUIDANCE_B.get(message.guidance_b)}}


def _settings(message: camf.CamfMessage) -> dict[str, Any]:
    settings = message.settings
    shown: dict[str, Any] = {"subject": settings.subject.name.lower()}
    if isinstance(settings, camf.HazardDetails):
        names = [name for name, _bits in HAZARD_DETAIL_LAYOUTS.get(message.hazard, ())]
        shown["fields"] = dict(zip(names, settings.values, strict=True))
        shown["reserved"] = settings.reserved
    else:
        shown.update(asdict(settings))
    return shown


def receiver_view(message: camf.CamfMessage) -> dict[str, Any]:
    """A JSON-ready description of everything a receiver can show for ``message``."""
    ellipse = camf.ellipse(message)
    return {
        "message_type": message.message_type.name.lower(),
        "country": {"code": message.country,
                    "name": COUNTRIES.get(message.country, f"country #{message.country}")},
        "provider": message.provider,
        "hazard": {"code": message.hazard, "name": HAZARDS[message.hazard],
                   "category": hazard_category(message.hazard)},
        "severity": message.severity.name.lower(),
        "onset": {"next_week": message.onset_next_week, "minute": message.onset_minute,
                  "text": onset_text(message)},
        "duration": _DURATION[message.duration],
        "guidance": _guidance(message),
        "ellipse": {"latitude": round(ellipse.latitude, 6),
                    "longitude": round(ellipse.longitude, 6),
                    "semi_major_km": round(ellipse.semi_major_km, 4),
                    "semi_minor_km": round(ellipse.semi_minor_km, 4),
                    "azimuth_deg": round(ellipse.azimuth_deg, 4)},
        "specific_settings": _settings(message),
    }
