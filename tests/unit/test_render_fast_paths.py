"""Property: the faster rendering paths give exactly what the straightforward ones gave.

Rendering sits inside the ingest request, so a few of its steps take shortcuts
(prefilters before regular expressions, forms composed only as far as ``fit``
needs them). Each test below keeps the straightforward version as the reference
and checks, on random text and random alerts, that the result is identical --
texts, reports, findings and fitted forms alike.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st
from render_budgets import CellBroadcastBudget, SmsBudget, Ucs2Budget

from router.assets import load_accessibility
from router.cap.model import Alert, Area, Info
from router.channel import FittedText, TextBudget
from router.render import RenderedAlert, Renderer
from router.render import text as text_module
from router.render.preview import _row
from router.render.text import SafeText, ScreenReaderRules

CONFIG = load_accessibility()
RENDERER = Renderer(CONFIG)


class ReferenceRules(ScreenReaderRules):
    """``apply`` as it was written first: every character inspected, every
    expression run, every line's blanks replaced."""

    def apply(self, text: str) -> SafeText:
        expanded: list[str] = []
        if self._symbol_re is not None:
            text = self._symbol_re.sub(lambda m: f" {self._symbols[m.group(0)]}", text)
        removed: tuple[str, ...] = ()
        if not text.isascii():
            removed = tuple(dict.fromkeys(
                c for c in text if ord(c) > 0x7F and text_module._is_symbol(c)
                and c not in text_module._INVISIBLE))
            text = "".join(c for c in text if ord(c) <= 0x7F or not text_module._is_symbol(c))
        if self._abbreviation_re is not None:
            def expand(match: re.Match[str]) -> str:
                expanded.append(match.group(1))
                return self._abbreviations[match.group(1)]
            text = self._abbreviation_re.sub(expand, text)
        unexplained: tuple[str, ...] = ()
        shouted = 0
        if re.search(r"[^\W\d_a-z]{2}", text):
            text, unexplained, shouted = self._caps(text)
        text = "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines())
        return SafeText(text.strip(), removed, tuple(dict.fromkeys(expanded)),
                        unexplained, shouted)


def rules_pair(language: str) -> tuple[ScreenReaderRules, ReferenceRules]:
    args = (CONFIG.abbreviations.get(language, {}), CONFIG.symbols.get(language, {}),
            CONFIG.labels_allowed_in_caps)
    return ScreenReaderRules(*args), ReferenceRules(*args)


RULES = {language: rules_pair(language) for language in ("nl", "en", "fy")}
# letters of several scripts and cases, digits, blanks of every kind the rewrites treat
# differently, line breaks, symbols (configured and not), emoji with joiners and
# variation selectors, keycaps
CHARS = st.sampled_from(list(
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ éÉëËıİßẞ ж Ж ש 中 0123456789"
    " .,:;!?-'\"/&%()  \t\t \n\r\x0b\x0c\x1c\x85\u2028 \u00a0°C°F km/h ⚠️😀👍🏽\u200d\ufe0e\u20e3"
    "✓→★©®™ \u00b4¨ \ue000"))
PIECES = st.sampled_from(
    [*CONFIG.abbreviations.get("nl", {}), *CONFIG.abbreviations.get("en", {}),
     *CONFIG.symbols.get("nl", {}), *CONFIG.labels_allowed_in_caps, "GA NU NAAR BINNEN",
     "SLUIT RAMEN", "GHOR", "KNMIs", "xkm", "km.", "e.g.,", "(ASAP)", "NL-Alert:", " ", "\n",
     "  ", "\t", ". ", "Brand", "brand", "BRAND!", "Zuid-Holland", "1 km", "30°C", "4&5", "ZUID",
     "ZW", "Zz", "zZ"])
TEXT = st.one_of(
    st.text(CHARS, max_size=200),
    st.lists(st.one_of(PIECES, st.text(CHARS, max_size=6)), max_size=30).map("".join),
    st.lists(PIECES, max_size=30).map(" ".join),
)


@settings(max_examples=400, deadline=None)
@given(TEXT, st.sampled_from(sorted(RULES)))
@example("Wind uit het ZW", "nl")  # the only capitals pair starts with Z
@example("RIJD NIET", "nl").via("a shouted run")
@example("Kijk op\u2028NL-Alert  en\tTV", "nl").via("labels, odd blanks, odd line break")
def test_screen_reader_text_equals_the_reference(text: str, language: str) -> None:
    fast, reference = RULES[language]
    assert fast.apply(text) == reference.apply(text)


def reference_fit(rendered: RenderedAlert, language: str, budget: TextBudget) -> FittedText:
    """``fit`` over the full list of forms, as first written."""
    fitted = FittedText(language, "", 0, budget.limit)
    for dropped, text in rendered.forms(language):
        fitted = FittedText(language, text, budget.cost(text), budget.limit, dropped)
        if fitted.fits:
            return fitted
    return fitted


class Characters:
    def __init__(self, limit: int) -> None:
        self.limit, self.name = limit, f"{limit} characters"

    def cost(self, text: str) -> int:
        return len(text)


BUDGETS = [CellBroadcastBudget(15), CellBroadcastBudget(1), SmsBudget(1), SmsBudget(3),
           Ucs2Budget(120), Characters(0), Characters(90), Characters(360)]
FIELD = st.one_of(st.none(), TEXT)


def alert(fields: list[str | None], languages: list[str]) -> Alert:
    headline, description, instruction, sender, web = fields
    infos = tuple(Info(
        language=language, categories=("Fire",), event="Brand", urgency="Immediate",
        severity="Severe", certainty="Observed", sender_name=sender or None,
        headline=headline or None, description=description or None,
        instruction=instruction or None, web=web and "https://www.nl-alert.nl/",
        expires=datetime(2026, 11, 25, 16, 0, tzinfo=UTC) if web else None,
        areas=(Area(area_desc="Rotterdam"),)) for language in languages)
    return Alert(identifier="P-1", sender="s@example.nl",
                 sent=datetime(2026, 11, 25, 13, 5, tzinfo=UTC), status="Actual",
                 msg_type="Alert", scope="Public", infos=infos)


@settings(max_examples=150, deadline=None)
@given(st.lists(FIELD, min_size=5, max_size=5),
       st.lists(st.sampled_from(["nl-NL", "en-GB", "fy", "NL"]), min_size=1, max_size=3))
def test_fit_and_preview_equal_the_reference(fields: list[str | None],
                                             languages: list[str]) -> None:
    rendered = RENDERER.render(alert(fields, languages))
    for language in (*rendered.languages, "nl", "en", "de"):
        for budget in BUDGETS:
            assert rendered.fit(language, budget) == reference_fit(rendered, language, budget)
        forms = rendered.forms(language)
        unlimited = _row(rendered, "webhook", "channel", language, None)
        assert unlimited.fitted.text == (forms[0][1] if forms else "")
