"""Readability scores per language, as ``textstat`` defines them, offline and fast.

Stage: the pure middle (render); no I/O at run time.

- Dutch: Flesch reading ease with Douma's coefficients (textstat's ``nl``).
- English: Flesch reading ease, Flesch-Kincaid grade and McAlpine EFLAW.
- German, Spanish, French, Italian, Russian: textstat's own reading-ease variant.
- Every language: the longest sentence in words.

Offline: textstat counts English syllables with the CMU dictionary, which it
*downloads through NLTK on first use*; a warning router has no business reaching
out to the internet (and CI has no network). Syllables are therefore counted per
word with the hyphenation dictionaries that ship inside the ``pyphen`` package --
the same method textstat already uses for every non-English language and for
English words missing from CMUdict. English scores therefore differ slightly
from textstat's online defaults; the thresholds in
``config/accessibility/accessibility.yaml`` are meant for this method. The CMU
dictionary's Python packaging is GPL-licensed, another reason not to use it.

Fast path. Readability runs inside the ingest request for every language of
every alert, so ``scores`` does not call textstat's metric functions: each of
them re-derives the same word list through its own cache layers and uncompiled
regular expressions, and the Flesch functions count syllables twice for English.
``scores`` makes one pass with textstat's own rules (its punctuation and
apostrophe handling, its sentence split that ignores sentences of two words or
fewer, its language coefficients read from ``textstat.backend.utils``) and the
same per-word Pyphen count, remembered in a bounded LRU cache per language
because alerts repeat their words far more than their texts. ``reference_scores``
is the textstat computation itself, kept as the definition: the property tests
in ``tests/unit/test_render_readability.py`` check that both give exactly the same
numbers for any text, so a textstat upgrade that changes a rule fails a test
instead of silently moving a threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from pyphen import Pyphen  # type: ignore[import-untyped]
from textstat.backend import metrics  # type: ignore[import-untyped]
from textstat.backend.counts import _count_syllables  # type: ignore[import-untyped]
from textstat.backend.utils import constants, get_lang_cfg  # type: ignore[import-untyped]

from router.render.config import ReadabilityThresholds

WORD_CACHE = 50_000
"""Words remembered per language (least recently used go first): about 5 MB for
both shipped languages when full, enough for every word of a year of alerts."""


class _Syllables:
    """Pyphen syllables per word for one language: hyphenation points + 1, exactly
    textstat's own Pyphen count."""

    def __init__(self, language: str) -> None:
        pyphen = Pyphen(lang=language)
        positions = pyphen.positions
        # Pyphen memoises every word it has seen, without bound; emptied when full,
        # it is only asked for words this LRU has not kept (a pure memo: same answers)
        memo = getattr(getattr(pyphen, "hd", None), "cache", None)
        self.pyphen_memo: dict[str, object] = memo if isinstance(memo, dict) else {}

        def count(word: str) -> int:
            if len(self.pyphen_memo) >= WORD_CACHE:
                self.pyphen_memo.clear()
            return len(positions(word)) + 1

        self.count: Callable[[str], int] = lru_cache(maxsize=WORD_CACHE)(count)

    def __getitem__(self, word: str) -> list[list[str]]:
        """Stands in for the CMU dictionary inside textstat (``reference_scores``):
        textstat reads ``mapping[word][0]`` and counts the phones that end in a
        digit, so this answers with one such phone per Pyphen syllable."""
        return [["1"] * self.count(word)]


@lru_cache(maxsize=32)
def _syllables(language: str) -> _Syllables:
    return _Syllables(language)


if not hasattr(_count_syllables, "get_cmudict"):  # a textstat that moved it: fail loudly
    raise ImportError("textstat no longer exposes count_syllables.get_cmudict; "
                      "router.render.readability must be adapted to stay offline")
_count_syllables.get_cmudict = _syllables

READING_EASE_LANGUAGES = frozenset({"nl", "en", "de", "es", "fr", "it", "ru"})
_SENTENCES = re.compile(r"[^.!?]+[.!?]*")
# textstat's rules, compiled once (textstat passes them to ``re`` as strings per call):
_LONE_APOSTROPHE = re.compile(constants.RE_NONCONTRACTION_APOSTROPHE)  # not in "it's"
_PUNCTUATION = re.compile(r"[^\w\s\']")  # remove_punctuation(rm_apostrophe=False)
_PUNCTUATION_AND_APOSTROPHES = re.compile(r"[^\w\s]")  # remove_punctuation(rm_apostrophe=True)
_TEXTSTAT_SENTENCES = re.compile(r"\b[^.!?]+[.!?]*")  # count_sentences
# textstat's words are the blank-separated tokens of which something survives
# remove_punctuation: a word character or an apostrophe before a contraction
# ending -- which is itself followed by a word character in the same token. So a
# token counts when it holds a word character, and counting matches (each from a
# token's first word character to its end) is ``len(_without_punctuation(s).split())``
# in one search; removal never touches blanks, so tokens map one to one onto words.
_COUNTED_WORDS = re.compile(r"\w\S*")


@dataclass(frozen=True)
class Breach:
    metric: str
    value: float
    limit: float
    wanted: str  # "at least" | "at most"


def warm(language: str) -> None:
    """Load ``language``'s hyphenation dictionary now (about 0.1 s each), at start-up,
    rather than inside the first alert's request."""
    scores("Ga nu naar binnen.", language)


def longest_sentence_words(text: str) -> int:
    return max((len(s.split()) for s in _SENTENCES.findall(text)), default=0)


def _without_punctuation(text: str) -> str:
    """textstat's ``remove_punctuation(text, rm_apostrophe=False)``."""
    return _PUNCTUATION.sub("", _LONE_APOSTROPHE.sub("", text))


def _sentence_count(text: str) -> int:
    """textstat's ``count_sentences``: sentences of two words or fewer do not count."""
    found = _TEXTSTAT_SENTENCES.findall(text)
    short = sum(1 for s in found if len(_COUNTED_WORDS.findall(s)) <= 2)
    return max(1, len(found) - short)


class Counts(NamedTuple):
    """What textstat's formulas are made of, counted by textstat's rules."""

    words: int  # count_words
    sentences: int  # count_sentences
    syllables: int  # count_syllables (Pyphen per word)
    miniwords: int  # count_miniwords(max_size=3); only counted for English (EFLAW)


def counts(text: str, language: str) -> Counts:
    """One pass over a non-blank ``text`` in ``language`` (a primary tag, ``nl``)."""
    kept = _without_punctuation(text)
    miniwords = sum(1 for w in _PUNCTUATION_AND_APOSTROPHES.sub("", text).split()
                    if len(w) <= 3) if language == "en" else 0
    return Counts(len(kept.split()), _sentence_count(text),
                  sum(map(_syllables(language).count, kept.lower().split())), miniwords)


def _reading_ease(language: str, words_per_sentence: float, syllables_per_word: float
                  ) -> float:
    """textstat's ``flesch_reading_ease``, operation for operation (the same float)."""
    if words_per_sentence == 0 or syllables_per_word == 0:
        return 0.0
    base, per_sentence_word, per_syllable = _ease_coefficients(language)
    return base - per_sentence_word * words_per_sentence - per_syllable * syllables_per_word


@lru_cache(maxsize=32)
def _ease_coefficients(language: str) -> tuple[float, float, float]:
    """textstat's coefficients for ``language`` (English's for any it lacks); small
    integers become floats exactly, so the arithmetic is unchanged."""
    base, length, syllables = (float(get_lang_cfg(language, key)) for key in (
        "fre_base", "fre_sentence_length", "fre_syll_per_word"))
    return base, length, syllables


def _grade(words_per_sentence: float, syllables_per_word: float) -> float:
    """textstat's ``flesch_kincaid_grade``, operation for operation."""
    if words_per_sentence == 0 or syllables_per_word == 0:
        return 0.0
    return (0.39 * words_per_sentence) + (11.8 * syllables_per_word) - 15.59


def scores(text: str, language: str) -> dict[str, float]:
    """Scores for ``text`` in ``language`` (a BCP 47 tag); empty for no words."""
    primary = language.split("-", 1)[0].lower()
    if not text.strip():
        return {}
    result = {"longest_sentence_words": float(longest_sentence_words(text))}
    if primary not in READING_EASE_LANGUAGES:
        return result
    n = counts(text, primary)  # n.sentences >= 1: the text has a non-space character
    per_sentence = n.words / n.sentences
    per_word = n.syllables / n.words if n.words else 0.0
    result["reading_ease"] = round(float(_reading_ease(primary, per_sentence, per_word)), 1)
    if primary == "en":
        result["grade"] = round(float(_grade(per_sentence, per_word)), 1)
        result["eflaw"] = round(float((n.words + n.miniwords) / n.sentences), 1)
    return result


def reference_scores(text: str, language: str) -> dict[str, float]:
    """``scores`` computed by textstat's own metric functions (the definition)."""
    primary = language.split("-", 1)[0].lower()
    if not text.strip():
        return {}
    result = {"longest_sentence_words": float(longest_sentence_words(text))}
    if primary in READING_EASE_LANGUAGES:
        result["reading_ease"] = round(float(metrics.flesch_reading_ease(text, primary)), 1)
        if primary == "en":
            result["grade"] = round(float(metrics.flesch_kincaid_grade(text, primary)), 1)
            result["eflaw"] = round(float(metrics.mcalpine_eflaw(text)), 1)
    return result


def breaches(measured: dict[str, float], limits: ReadabilityThresholds) -> list[Breach]:
    checks = [("reading_ease", limits.min_reading_ease, "at least"),
              ("grade", limits.max_grade, "at most"),
              ("eflaw", limits.max_eflaw, "at most"),
              ("longest_sentence_words", limits.max_sentence_words, "at most")]
    found = []
    for metric, limit, wanted in checks:
        value = measured.get(metric)
        if value is None or limit is None:
            continue
        if (value < limit) if wanted == "at least" else (value > limit):
            found.append(Breach(metric, value, float(limit), wanted))
    return found
