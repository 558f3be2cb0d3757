"""The rendered variants of one alert, as stored with it and handed to every channel.

Stage: the pure middle (render); no I/O. ``RenderedAlert`` satisfies the
``router.channel.Variants`` contract: ``fit(language, budget)`` returns the
longest structured summary that fits the channel's budget, dropping whole
slots in the configured order (by default the link, then the impact, then the
time, then the source); hazard, place and guidance are never dropped and no
slot is ever cut, so no word is ever cut either. When even the shortest form is
too long, the result says by how much (``FittedText.overflow``) and the channel
fails the delivery as too long.

``to_json``/``from_json`` are the stored form (``alert_variants.variants``);
``RENDER_VERSION`` names the layout so a later Tocsin can tell old rows apart.

It is also a ``router.channel.MediaVariants``: ``assets`` lists the sign-language
clips the CAP message links and the spoken audio attached with ``with_speech`` when
the delivery is handed over (``router.assets.media``). Audio is made after the alert
is stored, so it is never part of the stored form: the store's asset table is its
record, and ``speech_state`` says whether more is to come.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from router.cap import Finding
from router.channel import Asset, FittedText, TextBudget

RENDER_VERSION = 1
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def primary(tag: str) -> str:
    return tag.split("-", 1)[0].lower()


def compose(slots: tuple[tuple[str, str], ...], dropped: tuple[str, ...] = ()) -> str:
    """The summary text: "source: hazard" on the first line, each further slot on its
    own line, in reading order, leaving out ``dropped`` slots."""
    kept = {name: text for name, text in slots if name not in dropped and text}
    status = kept.pop("status", "")
    first = [kept.pop(name) for name in ("source", "hazard") if name in kept]
    head = ": ".join(first) if len(first) == 2 else "".join(first)
    return "\n".join([line for line in (status, head, *kept.values()) if line])


@dataclass(frozen=True)
class LanguageVariant:
    """One language: the authority's text (V1), it made screen-reader-safe, the
    structured summary's slots (V2) and the readability scores."""

    language: str
    origin: str  # "cap": an <info> of the alert; "template": the template library
    info_index: int | None  # 1-based <info> the text came from (the first, for templates)
    full_text: str
    screen_reader_text: str
    slots: tuple[tuple[str, str], ...]
    readability: dict[str, float] = field(default_factory=dict)
    short: tuple[str, ...] = ()
    """Short-form candidates beyond the slot drops, best first: the headline with the
    place and one instruction, the headline alone, the event with the place and one
    instruction (each after the exercise marker); see ``RenderedAlert.fit_short``."""

    @property
    def summary(self) -> str:
        return compose(self.slots)


@dataclass(frozen=True)
class Icon:
    id: str
    alt: dict[str, str]  # language -> alt text


@dataclass(frozen=True)
class CadenceRef:
    id: str
    severity: str
    pattern_ms: tuple[int, ...]
    tone_hz: tuple[int, ...]

    @property
    def duration_ms(self) -> int:
        return sum(self.pattern_ms)


@dataclass(frozen=True)
class RenderedAlert:
    """Every variant of one alert; a ``router.channel.Variants``."""

    variants: tuple[LanguageVariant, ...]
    drop_order: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    icon: Icon | None = None
    cadence: CadenceRef | None = None
    sign_language: tuple[dict[str, Any], ...] = ()
    version: int = RENDER_VERSION
    speech: tuple[Asset, ...] = ()  # attached at hand-over, never stored (see module doc)
    speech_state: str | None = None  # pending | done | failed | off; None: not known
    substitutions: dict[str, dict[str, str]] = field(default_factory=dict)
    """Primary language -> the enabled GSM-7 substitution table (``config/accessibility/
    gsm7-substitutions.yaml``), applied by ``fit`` for budgets with ``gsm7_blockers``."""

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(v.language for v in self.variants)

    @property
    def authored(self) -> tuple[str, ...]:
        """Languages with the authority's own text (an ``<info>`` or the ``<note>``), not
        template text only; channels that pick languages use it to keep them."""
        return tuple(v.language for v in self.variants if v.origin != "template")

    @property
    def assets(self) -> tuple[Asset, ...]:
        """The spoken audio made so far, then the linked sign-language clips."""
        clips = tuple(_clip(r) for r in self.sign_language if r.get("uri"))
        return self.speech + clips

    @property
    def speech_pending(self) -> bool:
        return self.speech_state == "pending"

    def with_speech(self, speech: tuple[Asset, ...], state: str | None) -> RenderedAlert:
        return replace(self, speech=speech, speech_state=state)

    def variant(self, language: str) -> LanguageVariant | None:
        """The variant for ``language``: the exact tag, else the same primary language."""
        wanted = language.lower()
        exact = next((v for v in self.variants if v.language.lower() == wanted), None)
        return exact or next((v for v in self.variants
                              if primary(v.language) == primary(wanted)), None)

    def forms(self, language: str) -> list[tuple[tuple[str, ...], str]]:
        """Every candidate form, longest first: (slots dropped, text)."""
        variant = self.variant(language)
        return [] if variant is None else list(self._forms(variant))

    def _forms(self, variant: LanguageVariant) -> Iterator[tuple[tuple[str, ...], str]]:
        """The forms one by one, so that ``fit`` composes only those it tries."""
        yield (), compose(variant.slots)
        present = {name for name, text in variant.slots if text}
        dropped: list[str] = []
        order = self.drop_order if "note" in self.drop_order else ("note", *self.drop_order)
        for name in order:
            if name in present:
                dropped.append(name)
                yield tuple(dropped), compose(variant.slots, tuple(dropped))

    def fit(self, language: str, budget: TextBudget) -> FittedText:
        fitted = FittedText(language, "", 0, budget.limit)
        variant = self.variant(language)
        if variant is None:
            return fitted
        table = self.substitutions.get(primary(language))
        blockers = getattr(budget, "gsm7_blockers", None) if table else None
        for dropped, form in self._forms(variant):
            text, swapped = form, tuple[str, ...]()
            if table and callable(blockers):
                text, swapped = _substituted(form, table, blockers)
            fitted = FittedText(language, text, budget.cost(text), budget.limit, dropped,
                                swapped)
            if fitted.fits:
                return fitted
        return fitted

    def fit_short(self, language: str, budget: TextBudget) -> FittedText:
        """The longest summary form that fits, else the first short candidate that fits
        (headline first); else the shortest of all, not fitting (``fits`` False), for
        the finding that names it. Reference short forms (``short-90``) use this."""
        fitted = self.fit(language, budget)
        variant = self.variant(language)
        if fitted.fits or variant is None:
            return fitted
        tried = [fitted]
        for text in variant.short:
            candidate = FittedText(language, text, budget.cost(text), budget.limit,
                                   ("short",))
            if candidate.fits:
                return candidate
            tried.append(candidate)
        return min(tried, key=lambda f: f.cost)

    def to_json(self) -> str:
        body = {
            "version": self.version, "drop_order": self.drop_order,
            "variants": [{"language": v.language, "origin": v.origin,
                          "info_index": v.info_index, "full_text": v.full_text,
                          "screen_reader_text": v.screen_reader_text, "slots": v.slots,
                          "readability": v.readability,
                          **({"short": v.short} if v.short else {})}
                         for v in self.variants],
            "findings": [f.model_dump(mode="json") for f in self.findings],
            "icon": {"id": self.icon.id, "alt": self.icon.alt} if self.icon else None,
            "cadence": {"id": self.cadence.id, "severity": self.cadence.severity,
                        "pattern_ms": self.cadence.pattern_ms, "tone_hz": self.cadence.tone_hz}
            if self.cadence else None,
            "sign_language": self.sign_language,
            **({"substitutions": self.substitutions} if self.substitutions else {}),
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> RenderedAlert:
        body = json.loads(text)
        if body.get("version") != RENDER_VERSION:
            raise ValueError(f"stored variants have layout version {body.get('version')}, "
                             f"this Tocsin reads {RENDER_VERSION}")
        return cls(
            variants=tuple(LanguageVariant(**{**v, "slots": tuple(map(tuple, v["slots"])),
                                              "short": tuple(v.get("short", ()))})
                           for v in body["variants"]),
            drop_order=tuple(body["drop_order"]),
            findings=tuple(Finding.model_validate(f) for f in body["findings"]),
            icon=Icon(**body["icon"]) if body["icon"] else None,
            cadence=CadenceRef(**{**body["cadence"],
                                  "pattern_ms": tuple(body["cadence"]["pattern_ms"]),
                                  "tone_hz": tuple(body["cadence"]["tone_hz"])})
            if body["cadence"] else None,
            sign_language=tuple(body["sign_language"]),
            substitutions=dict(body.get("substitutions") or {}),
        )


def _substituted(text: str, table: dict[str, str], blockers: Any
                 ) -> tuple[str, tuple[str, ...]]:
    """``text`` with the table's letters replaced when that makes it GSM-7, and what was
    replaced; else ``text`` unchanged (a spelling is never changed for nothing)."""
    found = str(blockers(text))
    if not found or any(char not in table for char in found):
        return text, ()
    candidate = text.translate({ord(char): table[char] for char in found})
    if blockers(candidate):
        return text, ()
    return candidate, tuple(f"{char}→{table[char]}" for char in found)


def _clip(resource: dict[str, Any]) -> Asset:
    """A linked sign-language clip (a CAP ``<resource>`` as stored) as an ``Asset``;
    CAP 1.2's ``<digest>`` is SHA-1, so ``sha256`` stays unknown."""
    digest = str(resource.get("digest") or "").strip().lower()
    size = resource.get("size")
    return Asset(kind="sign_language", mime_type=str(resource.get("mime_type", "")),
                 description=str(resource.get("resource_desc", "")),
                 uri=str(resource["uri"]),
                 sha256=digest if len(digest) == 64 and _HEX.match(digest) else None,
                 sha1=digest if len(digest) == 40 and _HEX.match(digest) else None,
                 size=size if isinstance(size, int) else None)
