"""The accessibility configuration as data: languages, summary order, word lists,
template library, icons, cadences and readability thresholds.

Stage: the pure middle (render). These models only validate; the YAML files in
``config/accessibility/`` are read by ``router.assets.config`` at start-up, so
that rendering itself never touches a file. Every model forbids unknown keys:
a typo in a deployment's file is an error at start-up, not a silent default.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLOTS = ("status", "source", "hazard", "impact", "where", "guidance", "note", "time", "link")
"""The structured summary's slots in reading order: the exercise/test marker (only
for ``status`` Exercise or Test), source -> hazard and impact -> where -> what to do
-> the exercise's note -> when, then the link to more information."""

NEVER_DROPPED = ("status", "hazard", "where", "guidance")
"""Without these a warning is not a warning -- or an exercise passes for a real one."""

REQUIRED_SLOTS = ("source", "hazard", "where", "guidance", "time")
"""Slots that must not be empty (the five elements of a complete warning)."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MissingLanguage(StrEnum):
    WARN = "warn"
    REJECT = "reject"


class ReadabilityThresholds(_Data):
    """Per language; a score past a threshold is a warning finding, never a rejection."""

    min_reading_ease: float | None = Field(
        default=None, description="Flesch reading ease (nl: Flesch-Douma) at least this")
    max_grade: float | None = Field(
        default=None, description="Flesch-Kincaid grade at most this (English only)")
    max_eflaw: float | None = Field(
        default=None, description="McAlpine EFLAW at most this (English only)")
    max_sentence_words: int | None = Field(default=None, ge=1)


class Cadence(_Data):
    """An attention pattern for deaf, hard-of-hearing and deaf-blind users: vibration
    on/off durations (ms, starting with 'on') and the tone frequencies played with it."""

    pattern_ms: tuple[int, ...] = Field(min_length=1)
    tone_hz: tuple[int, ...] = ()
    description: str = ""

    @field_validator("pattern_ms")
    @classmethod
    def _positive(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(ms <= 0 for ms in value):
            raise ValueError("every on/off duration must be a positive number of ms")
        return value

    @property
    def duration_ms(self) -> int:
        return sum(self.pattern_ms)


class Labels(_Data):
    """The few fixed words of the structured summary in one language."""

    where: str
    from_: str = Field(alias="from")
    until: str
    issued: str
    more: str
    time_format: str = "%Y-%m-%d %H:%M"


class HazardTemplate(_Data):
    codes: tuple[str, ...] = Field(min_length=1)
    icon: str
    text: dict[str, str] = Field(description="language -> human-verified hazard name")


class GuidanceTemplate(_Data):
    codes: tuple[str, ...] = Field(min_length=1)
    text: dict[str, str] = Field(description="language -> human-verified instruction")


class TemplateLibrary(_Data):
    """Human-verified texts keyed by hazard and guidance codes. A code is
    ``valueName:value`` of a CAP ``<eventCode>``, ``category:<CAP category>`` or
    ``responseType:<CAP responseType>``. A language listed here for every code of an
    alert yields a variant in that language without any translation by Tocsin."""

    labels: dict[str, Labels] = Field(default_factory=dict)
    hazards: tuple[HazardTemplate, ...] = ()
    guidance: tuple[GuidanceTemplate, ...] = ()
    notices: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="msgType (Cancel) -> language -> the human-verified "
        "line sent when the message has neither <info> nor <note>")
    status_markers: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="CAP status (Exercise, Test) -> language -> the "
        "word every form of such an alert starts with (OEFENING, EXERCISE)")


class Gsm7Substitution(_Data):
    """One language's opt-in replacements for letters outside the GSM 7-bit alphabet
    (Dutch ``ë`` -> ``e``): a cell broadcast or SMS text with one such letter goes out
    as UCS-2 and takes about twice the pages. Off unless ``enabled``; applied only when
    it makes the whole text GSM-7 (never a spelling change for nothing), and what is
    substituted is listed in the preview before anything is sent."""

    enabled: bool = False
    table: dict[str, str] = Field(default_factory=dict)

    @field_validator("table")
    @classmethod
    def _single_characters(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [key for key in value if len(key) != 1]
        if bad:
            raise ValueError(f"keys must be single characters: {bad}")
        return value


class TtsSettings(_Data):
    enabled: bool = True
    voices: dict[str, str] = Field(default_factory=dict,
                                   description="language -> espeak-ng voice name")
    max_duration_s: float = Field(default=60.0, gt=0)
    timeout_s: float = Field(default=30.0, gt=0)
    bitrate_kbps: int = Field(default=24, ge=6, le=256,
                              description="Opus bitrate of the stored speech (opusenc --speech)")
    complexity: int = Field(default=5, ge=0, le=10,
                            description="opusenc --comp: 10 (opusenc's default) is the best "
                                        "quality; 5 encodes a third faster for 1-2 % more "
                                        "bytes, so a backlog drains sooner")
    concurrency: int | None = Field(
        default=None, ge=1, le=64,
        description="alerts spoken at once; default the node's CPU count (the tools run "
                    "under nice -n 10, so they use the cores ingest and delivery leave idle)")


class AccessibilityConfig(_Data):
    """Everything ``render_alert`` needs; built from ``config/accessibility/*.yaml``."""

    required_languages: tuple[str, ...] = ("nl", "en")
    missing_language: MissingLanguage = MissingLanguage.WARN
    drop_order: tuple[str, ...] = ("note", "link", "impact", "time", "source")
    labels_allowed_in_caps: frozenset[str] = frozenset()
    abbreviations: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="language -> abbreviation -> expansion")
    symbols: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="language -> symbol -> words")
    sign_language_markers: tuple[str, ...] = ("sign language", "gebarentaal")
    readability: dict[str, ReadabilityThresholds] = Field(default_factory=dict)
    cadences: dict[str, Cadence] = Field(default_factory=dict)
    severity_cadence: dict[str, str] = Field(default_factory=dict)
    category_icons: dict[str, str] = Field(default_factory=dict)
    icon_alt: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="icon id -> language -> alt text")
    default_icon: str = "warning"
    reference_forms: dict[str, int] = Field(
        default_factory=lambda: {"short-90": 90, "short-360": 360},
        description="name -> characters: short forms shown beside every channel")
    templates: TemplateLibrary = Field(default_factory=TemplateLibrary)
    gsm7_substitutions: dict[str, Gsm7Substitution] = Field(default_factory=dict)
    tts: TtsSettings = Field(default_factory=TtsSettings)

    @field_validator("drop_order")
    @classmethod
    def _droppable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in SLOTS]
        if unknown:
            raise ValueError(f"unknown slots {unknown}; slots are {', '.join(SLOTS)}")
        kept = [s for s in NEVER_DROPPED if s in value]
        if kept:
            raise ValueError(f"{kept} can never be dropped: without them a warning is "
                             "not a warning")
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> AccessibilityConfig:
        problems = [f"severity_cadence.{severity}: no cadence named {name!r}"
                    for severity, name in self.severity_cadence.items()
                    if name not in self.cadences]
        if problems:
            raise ValueError("; ".join(problems))
        return self
