"""Property: the one-pass readability path gives exactly textstat's numbers.

``readability.scores`` does not call textstat's metric functions (they are slow on
the ingest path); it re-applies textstat's rules. These tests pin it to textstat
itself on random text: the raw counts against ``textstat.backend.counts``, the
per-word syllable count against textstat's own Pyphen fallback, and the rounded
scores (what findings and the stored variants carry) against ``reference_scores``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textstat.backend import counts as textstat_counts
from textstat.backend.utils import get_pyphen

from router.render import readability

LANGUAGES = ["nl", "nl-NL", "en", "en-GB", "de", "fr", "es", "it", "ru", "pl", "fy"]
# Letters (with accents and other scripts), digits, every kind of punctuation textstat
# treats specially (sentence ends, apostrophes before and not before contraction
# endings, hyphens), symbols, and white space of several kinds.
CHARS = st.sampled_from(list(
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ éëïöüçñß ĳ İ ж ש 中 0123456789"
    " .......!!??  ''''''  \u2019 - \u2013 , ; : ( ) \" / & % °C € 😀 ⚠ \n\t\u00a0"))
WORDS = st.sampled_from([
    "Ga", "naar", "binnen.", "Sluit", "ramen", "en", "deuren.", "Er", "is", "een", "grote",
    "brand", "in", "Rotterdam-Zuid.", "ventilatievoorzieningen", "onmiddellijk", "Go",
    "inside.", "Close", "windows", "and", "doors!", "It's", "don't", "they've", "we'll",
    "you're", "'quoted'", "rock'n'roll", "o'clock", "smoke?", "Major", "fire", "at", "a",
    "company.", "ALL", "CAPS", "Mr.", "e.g.", "10:00", "16:00.", "https://www.nl-alert.nl/",
    "!", "...", "?!", "-", "—", "z.s.m.", "NL-Alert", "l'eau", "Straße.", "жить.", "çà"])
TEXT = st.one_of(
    st.text(CHARS, max_size=300),
    st.lists(WORDS, max_size=60).map(" ".join),
    st.lists(st.one_of(WORDS, st.text(CHARS, min_size=1, max_size=8)), max_size=40).map(
        lambda parts: "".join(p + s for p, s in zip(parts, ". \n!? ' " * 10, strict=False))),
)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.sampled_from(LANGUAGES))
def test_scores_equal_textstat(text: str, language: str) -> None:
    assert readability.scores(text, language) == readability.reference_scores(text, language)


@settings(max_examples=300, deadline=None)
@given(TEXT.filter(str.strip), st.sampled_from(["nl", "en", "de", "fr"]))
def test_counts_equal_textstat_counts(text: str, language: str) -> None:
    counted = readability.counts(text, language)
    assert counted.words == textstat_counts.count_words(text)
    assert counted.sentences == textstat_counts.count_sentences(text)
    assert counted.syllables == textstat_counts.count_syllables(text, language)
    if language == "en":
        assert counted.miniwords == textstat_counts.count_miniwords(text, max_size=3)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_counted_words_are_textstats_words(text: str) -> None:
    """The one-search word count used per sentence is textstat's ``count_words``."""
    assert len(readability._COUNTED_WORDS.findall(text)) == textstat_counts.count_words(text)


@settings(max_examples=300, deadline=None)
@given(st.text(CHARS, min_size=1, max_size=30).map(str.lower).filter(str.strip),
       st.sampled_from(["nl", "en", "de"]))
def test_word_syllables_are_textstats_pyphen_count(word: str, language: str) -> None:
    """The reference path gets syllables from the same per-word count (it replaces the
    CMU lookup), so that count is checked on its own against textstat's fallback."""
    assert readability._syllables(language).count(word) == \
        len(get_pyphen(language).positions(word)) + 1


@pytest.mark.parametrize("text", [
    "", "   ", "!!!", "Ga.", "a b. c d e.", "It's 'quoted'. Isn't it?",
    "Er is een grote brand bij een bedrijf in Rotterdam-Zuid. Er komt veel rook vrij.",
    "There is a major fire at a company in Rotterdam-Zuid. A lot of smoke is released.",
])
@pytest.mark.parametrize("language", ["nl", "en-GB", "de", "xx"])
def test_known_texts_equal_textstat(text: str, language: str) -> None:
    assert readability.scores(text, language) == readability.reference_scores(text, language)


def test_the_word_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service that runs for years sees an open vocabulary: the cache must not grow
    with it, and a word pushed out is simply counted again."""
    monkeypatch.setattr(readability, "WORD_CACHE", 3)
    syllables = readability._Syllables("nl")
    words = ["een", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen", "tien"]
    first = [syllables.count(w) for w in words]
    info = syllables.count.cache_info()  # type: ignore[attr-defined]
    assert (info.maxsize, info.currsize, info.misses) == (3, 3, len(words))
    assert [syllables.count(w) for w in words] == first
    assert 0 < len(syllables.pyphen_memo) <= 3  # pyphen's own memo is bounded too
