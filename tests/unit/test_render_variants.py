"""Rendering the accessible variants of one alert: languages, summary, fitting by
whole slots, findings, template variants, icon, cadence, sign language, storage form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from render_budgets import CellBroadcastBudget

from router.assets import load_accessibility
from router.cap import parse_cap
from router.cap.model import Alert
from router.channel import CharacterBudget, Variants
from router.render import AccessibilityConfig, RenderedAlert, Renderer, compose
from router.render.config import MissingLanguage

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "examples" / "nl-alert-fire.xml"
CONFIG = load_accessibility(REPO / "config" / "accessibility")


def alert_of(raw: bytes | str) -> Alert:
    data = raw.encode() if isinstance(raw, str) else raw
    document = parse_cap(data).document
    assert document is not None, parse_cap(data).findings
    return document.alert


def example(**replacements: str) -> Alert:
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return alert_of(text)


def dutch_only() -> Alert:
    text = EXAMPLE.read_text(encoding="utf-8")
    return alert_of(text[:text.index("  <info>\n    <language>en-GB")] + "</alert>\n")


def codes(rendered: RenderedAlert) -> list[str]:
    return [f.code for f in rendered.findings]


def test_renders_both_languages_required_first() -> None:
    rendered = Renderer(CONFIG).render(alert_of(EXAMPLE.read_bytes()))
    assert isinstance(rendered, Variants)
    assert rendered.languages == ("nl-NL", "en-GB")
    assert "render.language.missing" not in codes(rendered)
    nl = rendered.variant("nl")
    assert nl is not None
    assert nl.origin == "cap"
    assert nl.info_index == 1
    assert rendered.variant("en-gb") is rendered.variant("en")


def test_summary_slots_in_fixed_order_and_none_empty() -> None:
    variant = Renderer(CONFIG).render(alert_of(EXAMPLE.read_bytes())).variant("nl")
    assert variant is not None
    names = [name for name, text in variant.slots if text]
    assert names == ["source", "hazard", "impact", "where", "guidance", "time", "link"]
    lines = variant.summary.splitlines()
    assert lines[0] == "Veiligheidsregio Rotterdam-Rijnmond: Grote brand in Rotterdam-Zuid."
    assert lines[2] == "Waar: Rotterdam-Zuid, Waalhaven en omgeving."
    assert lines[3].startswith("Ga naar binnen.")
    assert lines[4] == "Uitgegeven om 25-11-2026 14:05."  # no onset/expires: when it was issued


def test_time_slot_uses_onset_and_expires() -> None:
    alert = example(**{"<senderName>Veiligheidsregio": "<onset>2026-11-25T14:10:00+01:00</onset>"
                       "<expires>2026-11-25T18:00:00+01:00</expires><senderName>Veiligheidsregio"})
    variant = Renderer(CONFIG).render(alert).variant("nl")
    assert variant is not None
    assert dict(variant.slots)["time"] == "Vanaf 25-11-2026 14:10 tot 25-11-2026 18:00."


def test_empty_slots_are_findings() -> None:
    alert = example(**{"<instruction>Ga naar binnen. Sluit ramen en deuren. Zet mechanische "
                       "ventilatie uit.</instruction>": "",
                       "<responseType>Shelter</responseType>": "<responseType>None</responseType>",
                       "<senderName>Veiligheidsregio Rotterdam-Rijnmond</senderName>": ""})
    rendered = Renderer(CONFIG).render(alert)
    empty = [f.message for f in rendered.findings if f.code == "render.summary.slot-empty"]
    assert any("'guidance'" in m for m in empty)
    assert any("'source'" in m for m in empty)
    assert "render.text.missing-fields" in codes(rendered)


def test_guidance_falls_back_on_the_template_for_the_response_type() -> None:
    alert = example(**{"<instruction>Ga naar binnen. Sluit ramen en deuren. Zet mechanische "
                       "ventilatie uit.</instruction>": ""})
    variant = Renderer(CONFIG).render(alert).variant("nl")
    assert variant is not None
    assert dict(variant.slots)["guidance"] == "Ga naar binnen. Sluit ramen en deuren. Zet ventilatie uit."


def test_missing_required_language_is_a_warning_or_an_error_never_a_translation() -> None:
    alert = dutch_only().model_copy(update={"infos": tuple(
        i.model_copy(update={"response_types": ()}) for i in dutch_only().infos)})
    warned = Renderer(CONFIG).render(alert)
    assert warned.languages == ("nl-NL",)
    [finding] = [f for f in warned.findings if f.code == "render.language.missing"]
    assert finding.severity == "warning"
    assert "'en'" in finding.message
    strict = CONFIG.model_copy(update={"missing_language": MissingLanguage.REJECT})
    [finding] = [f for f in Renderer(strict).render(alert).findings
                 if f.code == "render.language.missing"]
    assert finding.severity == "error"


def test_template_library_covers_a_language_the_alert_lacks() -> None:
    rendered = Renderer(CONFIG).render(dutch_only())  # Fire + Shelter: both in the library
    assert rendered.languages == ("nl-NL", "en")
    english = rendered.variant("en")
    assert english is not None
    assert english.origin == "template"
    assert dict(english.slots)["hazard"] == "Fire."
    assert dict(english.slots)["guidance"] == "Go inside. Close windows and doors. Switch off ventilation."
    assert "render.language.template" in codes(rendered)
    assert "render.language.missing" not in codes(rendered)


def test_a_deployment_language_reaches_people_only_with_every_code_translated() -> None:
    library = CONFIG.templates.model_copy(deep=True)
    library.labels["pl"] = library.labels["en"].model_copy(update={"where": "Gdzie"})
    hazards = tuple(h.model_copy(update={"text": {**h.text, "pl": "Pożar"}})
                    if "category:Fire" in h.codes else h for h in library.hazards)
    config = CONFIG.model_copy(update={"templates": library.model_copy(update={"hazards": hazards})})
    assert "pl" not in Renderer(config).render(dutch_only()).languages  # no pl guidance yet
    guidance = tuple(g.model_copy(update={"text": {**g.text, "pl": "Wejdź do budynku."}})
                     for g in library.guidance)
    config = config.model_copy(update={"templates": config.templates.model_copy(
        update={"guidance": guidance})})
    polish = Renderer(config).render(dutch_only()).variant("pl")
    assert polish is not None
    assert "Pożar." in polish.summary
    assert "Gdzie:" not in polish.summary  # the place is written in Dutch only: left out


def test_long_alert_is_shortened_slot_by_slot_never_mid_word() -> None:
    long_description = " ".join(["Er komt heel veel rook vrij over de wijk."] * 40)
    rendered = Renderer(CONFIG).render(example(**{
        "Er is een grote brand bij een bedrijf aan de Waalhaven. Er komt veel rook vrij.":
        long_description}))
    variant = rendered.variant("nl")
    assert variant is not None
    words = set(re.findall(r"\S+", variant.summary))
    previous = len(variant.summary)
    for dropped, text in rendered.forms("nl")[1:]:
        assert text == compose(variant.slots, dropped)
        assert len(text) < previous
        previous = len(text)
        assert set(re.findall(r"\S+", text)) <= words  # only whole words of the full form
    fitted = rendered.fit("nl", CharacterBudget("230", 230))
    assert fitted.fits
    assert fitted.dropped == ("link", "impact")
    assert fitted.text == compose(variant.slots, ("link", "impact"))
    too_small = rendered.fit("nl", CharacterBudget("40", 40))
    assert not too_small.fits
    assert too_small.dropped == ("link", "impact", "time", "source")
    assert too_small.overflow == len(too_small.text) - 40 > 0


def test_two_language_nl_example_fits_the_cell_broadcast_budget() -> None:
    rendered = Renderer(CONFIG).render(alert_of(EXAMPLE.read_bytes()))
    for prefix in (False, True):
        budget = CellBroadcastBudget(pages=15, language_prefix=prefix)
        for language in ("nl", "en"):
            fitted = rendered.fit(language, budget)
            assert fitted.fits, (language, prefix)
            assert fitted.dropped == ()
            assert fitted.cost == 4  # 336 septets: 4 pages of 93 (or of 90)


def test_icon_cadence_and_sign_language() -> None:
    video = ('<resource><resourceDesc>NGT gebarentaal video</resourceDesc><mimeType>video/mp4'
             '</mimeType><uri>https://example.nl/ngt.mp4</uri></resource>'
             '<resource><resourceDesc>Kaart</resourceDesc><mimeType>image/png</mimeType>'
             '</resource><area>')
    text = EXAMPLE.read_text(encoding="utf-8").replace("<area>", video, 1)
    rendered = Renderer(CONFIG).render(alert_of(text))
    assert rendered.icon is not None
    assert rendered.icon.id == "fire"
    assert rendered.icon.alt == {"nl": "Brand", "en": "Fire"}
    assert rendered.cadence is not None
    assert rendered.cadence.id == "eu-alert-attention"
    assert rendered.cadence.duration_ms == 10_500  # 47 CFR 10.530 pattern, played twice
    assert [r["uri"] for r in rendered.sign_language] == ["https://example.nl/ngt.mp4"]


def test_readability_thresholds_give_warnings() -> None:
    hard = ("Ten gevolge van de onverwachte escalatie van de brandhaard adviseert de "
            "veiligheidsregio omwonenden nadrukkelijk om ventilatievoorzieningen onmiddellijk "
            "buiten werking te stellen en ramen gesloten te houden totdat nadere berichtgeving "
            "beschikbaarheid van actuele informatie bevestigt.")
    rendered = Renderer(CONFIG).render(example(**{
        "Er is een grote brand bij een bedrijf aan de Waalhaven. Er komt veel rook vrij.": hard}))
    found = {f.code for f in rendered.findings if f.location == "/alert/info[1]"}
    assert {"render.readability.reading-ease", "render.readability.longest-sentence-words"} <= found
    nl = rendered.variant("nl")
    assert nl is not None
    assert nl.readability["reading_ease"] < 50
    assert not {f.code for f in Renderer(CONFIG).render(alert_of(EXAMPLE.read_bytes())).findings
                if f.code.startswith("render.readability")}


def test_readability_never_reaches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import nltk  # noqa: PLC0415

    from router.render import readability  # noqa: PLC0415

    def no_network(*args: object, **kwargs: object) -> bool:
        raise AssertionError("textstat tried to download a corpus")

    monkeypatch.setattr(nltk, "download", no_network)
    scores = readability.scores("Go inside now. Close every window and door quickly.", "en-GB")
    assert scores["grade"] < 6
    assert scores["reading_ease"] > 60


def test_duplicate_language_and_cancel_without_language_check() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    second_nl = text[text.index("  <info>"):text.index("  <info>\n    <language>en-GB")]
    doubled = alert_of(text.replace("</alert>", second_nl + "</alert>"))
    assert "render.language.duplicate-info" in codes(Renderer(CONFIG).render(doubled))
    cancel = dutch_only().model_copy(update={"msg_type": "Cancel"})
    assert "render.language.template" not in codes(Renderer(CONFIG).render(cancel))


def test_stored_form_round_trips() -> None:
    rendered = Renderer(CONFIG).render(alert_of(EXAMPLE.read_bytes()))
    again = RenderedAlert.from_json(rendered.to_json())
    assert again == rendered
    with pytest.raises(ValueError, match="layout version"):
        RenderedAlert.from_json(rendered.to_json().replace('"version":1', '"version":99'))


def test_configuration_rejects_dropping_the_hazard() -> None:
    with pytest.raises(ValueError, match="never be dropped"):
        AccessibilityConfig(drop_order=("link", "hazard"))
    with pytest.raises(ValueError, match="no cadence named"):
        AccessibilityConfig(severity_cadence={"Extreme": "nope"})
