"""The plain-language structured summary (V2): slots filled from CAP fields.

Stage: the pure middle (render); no I/O.

Order (warning-response research: a complete warning names its source, the
hazard and its impact, where, what to do and when): source -> hazard -> impact
-> where -> guidance -> time -> link. Each slot comes from CAP fields:

| slot | from |
|---|---|
| source | ``senderName`` |
| hazard | ``headline``, else ``event`` |
| impact | ``description`` |
| where | the ``areaDesc`` of every ``<area>``, joined, after the language's label |
| guidance | ``instruction``, else template guidance for the ``responseType`` codes |
| time | ``onset``/``effective`` ("from"), ``expires`` ("until"); else ``sent`` ("issued") |
| link | ``web`` |
| status | Exercise/Test: the library's marker word in the language (``OEFENING``) |
| note | Exercise/Test: the alert's ``<note>`` (authored variants only) |

Slot texts are screen-reader-safe (``router.render.text``) and end in sentence
punctuation so that a speech synthesiser pauses between them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from router.cap.model import Alert, Info
from router.render.config import Labels
from router.render.text import SafeText, sentence


@dataclass(frozen=True)
class SlotSource:
    """What fills the slots of one language, before the screen-reader rewrite."""

    source: str
    hazard: str
    impact: str
    areas: str
    guidance: str
    times: tuple[datetime | None, datetime | None, datetime]  # from, until, issued
    link: str
    event: str = ""  # the CAP <event>, for the short forms
    status: str = ""  # the exercise/test marker in this language, as the library has it
    note: str = ""  # an exercise's <note>, in the authority's own variants only


def cap_source(alert: Alert, info: Info, guidance_fallback: str) -> SlotSource:
    start = info.onset or info.effective
    return SlotSource(
        source=info.sender_name or "",
        hazard=info.headline or info.event,
        impact=info.description or "",
        areas=", ".join(dict.fromkeys(a.area_desc for a in info.areas if a.area_desc)),
        guidance=info.instruction or guidance_fallback,
        times=(start, info.expires, alert.sent),
        link=info.web or "",
        event=info.event or "",
    )


def time_text(times: tuple[datetime | None, datetime | None, datetime],
              labels: Labels) -> str:
    start, until, issued = times
    fmt = labels.time_format
    parts = []
    if start is not None:
        parts.append(f"{labels.from_} {start.strftime(fmt)}")
    if until is not None:
        word = labels.until if not parts else labels.until[:1].lower() + labels.until[1:]
        parts.append(f"{word} {until.strftime(fmt)}")
    if not parts:
        parts.append(f"{labels.issued} {issued.strftime(fmt)}")
    return " ".join(parts)


def slots(src: SlotSource, labels: Labels | None,
          safe: Callable[[str], SafeText]) -> tuple[tuple[tuple[str, str], ...], list[SafeText]]:
    """The slots in reading order and the rewrite reports (for findings).

    Without labels for the language, ``where`` is the bare place and ``time`` stays
    empty: a date alone does not say whether it is a start or an end."""
    reports: list[SafeText] = []

    def clean(text: str) -> str:
        if not text:
            return ""
        report = safe(text)
        reports.append(report)
        return report.text

    where = clean(src.areas)
    if where and labels is not None:
        where = f"{labels.where}: {where}"
    time = time_text(src.times, labels) if labels is not None else ""
    link = f"{labels.more}: {src.link}" if src.link and labels is not None else src.link
    filled = (("status", src.status),  # a library word: not rewritten (it is ALL-CAPS)
              ("source", clean(src.source).rstrip(":")),
              ("hazard", sentence(clean(src.hazard))),
              ("impact", sentence(clean(src.impact))),
              ("where", sentence(where)),
              ("guidance", sentence(clean(src.guidance))),
              ("note", sentence(clean(src.note))),
              ("time", sentence(time)),
              ("link", link))
    return filled, reports
