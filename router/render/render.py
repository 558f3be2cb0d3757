"""``Renderer.render(alert)``: every accessible variant of one alert, once.

Stage: the pure middle (render); no I/O, no HTTP, no store. Called by ingest
after validation, before the alert is stored, so that its findings reach the
202 response and the variants are committed with the alert.

Languages. One variant per language of the alert's ``<info>`` blocks (the first
``<info>`` of a language; a second one in the same language is reported). Then,
for each language of the template library the alert lacks, a variant built only
from human-verified templates -- when the library has that language for the
alert's hazard code and every guidance code. Tocsin never translates, and never
mixes languages: a template variant holds only text written in its language (the
templates, the labels, the times and the link); the place and sender names the
authority wrote in another language are left out, each with the finding
``render.language.slot-omitted``. For an
Alert or Update, a required language with neither is ``render.language.missing``
(a warning, or an error when ``missing_language: reject``); one covered only by
templates is ``render.language.template`` (a warning: less detail than the
authority's own text). Order: the required languages as configured, then the
alert's other languages as written, then template-only languages.
"""

from __future__ import annotations

import re
from dataclasses import replace

from router.cap import Finding
from router.cap.findings import error, warning
from router.cap.model import Alert, Info, MsgType, Resource
from router.render import readability
from router.render.config import (
    REQUIRED_SLOTS,
    AccessibilityConfig,
    GuidanceTemplate,
    HazardTemplate,
    Labels,
    MissingLanguage,
)
from router.render.summary import SlotSource, cap_source, slots
from router.render.text import SafeText, ScreenReaderRules, sentence
from router.render.variants import CadenceRef, Icon, LanguageVariant, RenderedAlert, primary


def _codes(info: Info) -> tuple[list[str], list[str]]:
    """(hazard codes, guidance codes) of an info, most specific first."""
    events = [f"{c.value_name}:{c.value}" for c in info.event_codes]
    hazards = events + [f"category:{c.value}" for c in info.categories]
    guidance = events + [f"responseType:{r.value}" for r in info.response_types]
    return hazards, guidance


class Renderer:
    """Renders alerts with one accessibility configuration (compiled once)."""

    def __init__(self, config: AccessibilityConfig) -> None:
        self.config = config
        self._rules: dict[str, ScreenReaderRules] = {}
        self._hazards: dict[str, HazardTemplate] = {}
        self._guidance: dict[str, GuidanceTemplate] = {}
        for hazard in config.templates.hazards:
            for code in hazard.codes:
                self._hazards.setdefault(code, hazard)
        for guide in config.templates.guidance:
            for code in guide.codes:
                self._guidance.setdefault(code, guide)
        for language in (*config.required_languages, *config.templates.labels):
            readability.warm(language)

    # -- text helpers -----------------------------------------------------------------

    def rules(self, language: str) -> ScreenReaderRules:
        key = primary(language)
        if key not in self._rules:
            self._rules[key] = ScreenReaderRules(
                self.config.abbreviations.get(key, {}), self.config.symbols.get(key, {}),
                self.config.labels_allowed_in_caps | frozenset(
                    word for markers in self.config.templates.status_markers.values()
                    for word in markers.values()))
        return self._rules[key]

    def _labels(self, language: str) -> Labels | None:
        return self.config.templates.labels.get(primary(language))

    def _hazard(self, info: Info) -> HazardTemplate | None:
        hazards, _ = _codes(info)
        return next((self._hazards[c] for c in hazards if c in self._hazards), None)

    def _guides(self, info: Info) -> list[GuidanceTemplate]:
        _, guidance = _codes(info)
        found: list[GuidanceTemplate] = []
        for code in guidance:
            guide = self._guidance.get(code)
            if guide is not None and all(guide is not g for g in found):
                found.append(guide)
        return found

    # -- one language -----------------------------------------------------------------

    def _variant(self, language: str, origin: str, index: int, src: SlotSource, *,
                 parts: tuple[str, ...], findings: list[Finding]) -> LanguageVariant:
        """``parts``: the authored texts (headline, description, instruction) in order."""
        rules = self.rules(language)
        made: dict[str, SafeText] = {}

        def safe(text: str) -> SafeText:  # each text rewritten once, for slots and full text
            if text not in made:
                made[text] = rules.apply(text)
            return made[text]

        filled, _ = slots(src, self._labels(language), safe)
        spoken = "\n".join(sentence(safe(p).text) for p in parts if p)
        full_text = "\n".join(sentence(p) for p in parts if p)
        link = f"\n{src.link}" if src.link else ""
        location = f"/alert/info[{index}]"
        findings += _text_findings(list(made.values()), location)
        if self._labels(language) is None:
            findings.append(warning(
                "render.labels.missing", location,
                f"no summary labels for language {language!r} in the template library: "
                "'where' has no label and 'time' is left out; add labels for it"))
        else:
            findings += [warning("render.summary.slot-empty", location,
                                 f"summary slot {name!r} is empty for {language}: the "
                                 "warning does not say " + _SLOT_MEANING[name])
                         for name, text in filled if name in REQUIRED_SLOTS and not text]
        scores = readability.scores(spoken, language)
        limits = self.config.readability.get(primary(language))
        if origin == "cap" and limits is not None:
            findings += [warning(
                f"render.readability.{b.metric.replace('_', '-')}", location,
                f"{language} text scores {b.metric} {b.value:g}; wanted {b.wanted} "
                f"{b.limit:g}") for b in readability.breaches(scores, limits)]
        return LanguageVariant(language, origin, index, full_text + link, spoken + link,
                               filled, scores, _short_candidates(filled, safe(src.event).text
                                                                 if src.event else ""))

    def _cap_variant(self, alert: Alert, info: Info, index: int,
                     findings: list[Finding]) -> LanguageVariant:
        guides = self._guides(info)
        fallback = " ".join(g.text[primary(info.effective_language)] for g in guides
                            if primary(info.effective_language) in g.text)
        parts = tuple(t or "" for t in (info.headline, info.description, info.instruction))
        missing = [n for n, v in (("headline", info.headline), ("description",
                   info.description), ("instruction", info.instruction)) if not v]
        if missing:
            findings.append(warning("render.text.missing-fields", f"/alert/info[{index}]",
                                    f"{info.effective_language} has no {', '.join(missing)}"))
        language = info.effective_language
        src = replace(cap_source(alert, info, fallback),
                      status=self._marker(alert, language, index, findings),
                      note=(alert.note or "") if self._marker_wanted(alert) else "")
        return self._variant(language, "cap", index, src,
                             parts=(src.status, *parts, src.note), findings=findings)

    @staticmethod
    def _marker_wanted(alert: Alert) -> bool:
        return alert.status.value in {"Exercise", "Test"}

    def _marker(self, alert: Alert, language: str, index: int,
                findings: list[Finding]) -> str:
        """The exercise/test marker in ``language`` (empty for a real alert). A language
        the library has no marker for gets the CAP status word itself, upper case, with
        a finding: an exercise that reads like a real warning is worse than one word
        in another language."""
        if not self._marker_wanted(alert):
            return ""
        status = alert.status.value
        marker = self.config.templates.status_markers.get(status, {}).get(primary(language))
        if marker:
            return marker
        findings.append(warning(
            "render.status.marker-missing", f"/alert/info[{index}]",
            f"no {status} marker for {language} in the template library "
            f"(status_markers.{status}); the form starts with {status.upper()!r}"))
        return status.upper()

    def _template_variant(self, language: str, alert: Alert, info: Info, index: int,
                          findings: list[Finding]) -> LanguageVariant | None:
        hazard, guides = self._hazard(info), self._guides(info)
        if (hazard is None or language not in hazard.text or not guides
                or any(language not in g.text for g in guides)
                or self._labels(language) is None):
            return None
        authored = cap_source(alert, info, "")
        # only text written in ``language``: the template texts, the labels and the
        # times; the authority's place and sender names were written in another
        # language and are left out, each named in a finding (no language mixing)
        src = replace(authored, source="", areas="", event="", hazard=hazard.text[language],
                      impact="", guidance=" ".join(g.text[language] for g in guides),
                      status=self._marker(alert, language, index, findings))
        scratch: list[Finding] = []
        variant = self._variant(language, "template", index, src,
                                parts=(src.status, src.hazard, src.guidance),
                                findings=scratch)
        findings += [f for f in scratch if f.code != "render.summary.slot-empty"]
        findings += [warning(
            "render.language.slot-omitted", f"/alert/info[{index}]",
            f"the {language} template variant leaves out slot {slot!r}: the alert has "
            f"it only in {info.effective_language} ({what}) and a form in {language} "
            "carries only text written in that language")
            for slot, text, what in (("where", authored.areas, "areaDesc"),
                                     ("source", authored.source, "senderName")) if text]
        return variant

    # -- the alert --------------------------------------------------------------------

    def render(self, alert: Alert) -> RenderedAlert:
        findings: list[Finding] = []
        variants: list[LanguageVariant] = []
        seen: dict[str, int] = {}
        for index, info in enumerate(alert.infos, start=1):
            tag = info.effective_language
            if tag.lower() in seen:
                findings.append(warning(
                    "render.language.duplicate-info", f"/alert/info[{index}]",
                    f"a second <info> in {tag} (the first is info[{seen[tag.lower()]}]); "
                    "channels carry the first"))
                continue
            seen[tag.lower()] = index
            variants.append(self._cap_variant(alert, info, index, findings))
        if alert.infos:
            variants += self._templates(alert, {primary(v.language) for v in variants},
                                        findings)
        else:
            variants += self._notices(alert)
        findings += self._language_findings(alert, variants)
        first = alert.infos[0] if alert.infos else None
        return RenderedAlert(
            variants=tuple(self._ordered(variants)),
            drop_order=self.config.drop_order,
            findings=tuple(findings),
            icon=self._icon(first) if first else None,
            cadence=self._cadence(first) if first else None,
            sign_language=tuple(_resource(r) for info in alert.infos[:1]
                                for r in info.resources if self._is_sign_language(r)),
            substitutions={language: dict(table.table) for language, table
                           in self.config.gsm7_substitutions.items() if table.enabled},
        )

    def _templates(self, alert: Alert, present: set[str],
                   findings: list[Finding]) -> list[LanguageVariant]:
        info = alert.infos[0]
        made = []
        for language in self.config.templates.labels:
            if language in present:
                continue
            variant = self._template_variant(language, alert, info, 1, findings)
            if variant is not None:
                made.append(variant)
        return made

    def _notices(self, alert: Alert) -> list[LanguageVariant]:
        """A Cancel without ``<info>``: its ``<note>`` is the authority's own text and
        goes to everyone as written (one variant, language ``und``: the note may hold
        several languages, as a bilingual NL-Alert note does); without a note, the
        library's notice in each of its languages, so every recipient reads it in
        theirs. Other message types without ``<info>`` have nothing to say."""
        if alert.msg_type is not MsgType.CANCEL:
            return []
        marker = {language: self._marker(alert, language, 0, [])
                  for language in (*self.config.templates.labels, "und")}
        if alert.note and alert.note.strip():
            note = alert.note.strip()
            text = "\n".join(p for p in (marker["und"], note) if p)
            return [LanguageVariant("und", "note", None, text, text,
                                    (("status", marker["und"]), ("hazard", note)))]
        texts = self.config.templates.notices.get(alert.msg_type.value, {})
        return [LanguageVariant(language, "template", None,
                                "\n".join(p for p in (marker.get(language, ""), text) if p),
                                "\n".join(p for p in (marker.get(language, ""), text) if p),
                                (("status", marker.get(language, "")), ("hazard", text)))
                for language, text in texts.items()]

    def _language_findings(self, alert: Alert, variants: list[LanguageVariant]
                           ) -> list[Finding]:
        if alert.msg_type not in (MsgType.ALERT, MsgType.UPDATE) or not alert.infos:
            return []
        found = []
        origin = {primary(v.language): v.origin for v in reversed(variants)}
        for language in self.config.required_languages:
            if origin.get(language) == "template":
                found.append(warning(
                    "render.language.template", "/alert",
                    f"required language {language!r} has no <info>; its variant was "
                    "built from the human-verified template library only"))
            elif language not in origin:
                make = error if self.config.missing_language is MissingLanguage.REJECT \
                    else warning
                found.append(make(
                    "render.language.missing", "/alert",
                    f"required language {language!r} has no <info> and the template "
                    "library cannot cover this alert's codes; Tocsin does not translate"))
        return found

    def _ordered(self, variants: list[LanguageVariant]) -> list[LanguageVariant]:
        """Required languages first (as configured), then the rest as written; a
        template variant after an authored one. ``sorted`` is stable."""
        rank = {lang: i for i, lang in enumerate(self.config.required_languages)}
        return sorted(variants, key=lambda v: (rank.get(primary(v.language), len(rank)),
                                               v.origin == "template"))

    def _icon(self, info: Info) -> Icon:
        hazard = self._hazard(info)
        icon = hazard.icon if hazard else next(
            (self.config.category_icons[c.value] for c in info.categories
             if c.value in self.config.category_icons), self.config.default_icon)
        alt = dict(self.config.icon_alt.get(icon, {}))
        if hazard is not None:
            alt.update(hazard.text)
        return Icon(icon, alt)

    def _cadence(self, info: Info) -> CadenceRef | None:
        name = self.config.severity_cadence.get(info.severity.value)
        if name is None:
            return None
        cadence = self.config.cadences[name]
        return CadenceRef(name, info.severity.value, cadence.pattern_ms, cadence.tone_hz)

    def _is_sign_language(self, resource: Resource) -> bool:
        described = resource.resource_desc.lower()
        return resource.mime_type.lower().startswith("video/") and any(
            marker.lower() in described for marker in self.config.sign_language_markers)


_SLOT_MEANING = {"source": "who sends it (senderName)",
                 "hazard": "what the hazard is (headline/event)",
                 "where": "where (areaDesc)", "guidance": "what to do (instruction)",
                 "time": "when"}


_FIRST_SENTENCE = re.compile(r"^.*?[.!?](?=\s|$)", re.DOTALL)


def _short_candidates(slots: tuple[tuple[str, str], ...], event: str) -> tuple[str, ...]:
    """The short forms tried when even the fewest slots are too long, best first (the
    headline first): headline + place + one instruction, the headline alone, then
    the event + place + one instruction. Whole sentences only, never a cut word; the
    exercise marker stays in front of each."""
    filled = dict(slots)
    match = _FIRST_SENTENCE.match(filled.get("guidance", ""))
    one = match.group(0) if match else filled.get("guidance", "")
    status, headline, where = filled.get("status", ""), filled.get("hazard", ""), \
        filled.get("where", "")
    candidates = [(status, headline, where, one), (status, headline),
                  (status, sentence(event), where, one) if event else ()]
    texts = ["\n".join(p for p in parts if p) for parts in candidates if parts]
    return tuple(dict.fromkeys(t for t in texts if t))


def _resource(resource: Resource) -> dict[str, object]:
    return resource.model_dump(mode="json", exclude_none=True)


def _text_findings(reports: list[SafeText], location: str) -> list[Finding]:
    removed = sorted({s for r in reports for s in r.removed_symbols})
    unexplained = sorted({w for r in reports for w in r.unexplained})
    shouted = any(r.shouted_words for r in reports)
    found = []
    if removed:
        found.append(warning("render.text.symbol-removed", location,
                             f"symbols with no words removed: {' '.join(removed)}; say it "
                             "in words (a screen reader reads symbols badly or not at all)"))
    if unexplained:
        found.append(warning("render.text.unexplained-caps", location,
                             f"ALL-CAPS words that are neither labels nor listed "
                             f"abbreviations: {', '.join(unexplained[:10])}"))
    if shouted:
        found.append(warning("render.text.all-caps", location,
                             "runs of ALL-CAPS words were made lower case (shouting is "
                             "hard to read and some screen readers spell it out)"))
    return found
