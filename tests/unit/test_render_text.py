"""Screen-reader-safe text: abbreviations, symbols, emoji and capitals."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from router.render.text import ScreenReaderRules, sentence

NL = ScreenReaderRules({"i.v.m.": "in verband met", "km": "kilometer",
                        "KNMI": "KNMI (het weerinstituut)"},
                       {"°C": "graden Celsius"}, frozenset({"NL-Alert", "TV"}))


def test_abbreviations_are_expanded_as_whole_words() -> None:
    safe = NL.apply("Wegen dicht i.v.m. brand op 3 km afstand. Kmz blijft.")
    assert safe.text == "Wegen dicht in verband met brand op 3 kilometer afstand. Kmz blijft."
    assert safe.expanded == ("i.v.m.", "km")


def test_symbols_become_words_and_emoji_are_removed_and_reported() -> None:
    safe = NL.apply("⚠️ Het is 40°C. Blijf binnen 🏠!")
    assert safe.text == "Het is 40 graden Celsius. Blijf binnen !"
    assert set(safe.removed_symbols) == {"⚠", "🏠"}


def test_shouting_is_lowered_labels_and_listed_acronyms_are_kept() -> None:
    safe = NL.apply("GA NU NAAR BINNEN. Volg NL-Alert, TV en het KNMI. Bel de GGD.")
    assert safe.text.startswith("Ga nu naar binnen. Volg NL-Alert, TV en het KNMI (het weer")
    assert safe.shouted_words == 4
    assert safe.unexplained == ("GGD",)


def test_sentence_adds_a_full_stop_once() -> None:
    assert sentence("Ga naar binnen") == "Ga naar binnen."
    assert sentence("Ga naar binnen!") == "Ga naar binnen!"
    assert sentence("Waar:") == "Waar."
    assert sentence("") == ""


@given(st.text(max_size=300))
def test_output_never_has_symbols_or_shouting_runs(text: str) -> None:
    safe = NL.apply(text)
    assert not any(c in "⚠🏠\ufe0f\u200d" for c in safe.text)
    words = [w.strip(".,!?;:()") for w in safe.text.split()]
    runs = [a.isalpha() and a.isupper() and len(a) > 1 and b.isalpha() and b.isupper()
            and len(b) > 1 and a not in {"TV", "KNMI"} and b not in {"TV", "KNMI"}
            for a, b in itertools.pairwise(words)]
    assert not any(runs)
