"""Readability scores per language with ``textstat``, offline.

Stage: the pure middle (render); no I/O at run time.

- Dutch: Flesch reading ease with Douma's coefficients (``set_lang("nl")``).
- English: Flesch reading ease, Flesch-Kincaid grade and McAlpine EFLAW.
- German, Spanish, French, Italian, Russian: textstat's own reading-ease variant.
- Every language: the longest sentence in words.

Offline: textstat counts English syllables with the CMU dictionary, which it
*downloads through NLTK on first use*; a warning router has no business reaching
out to the internet (and CI has no network). Here the CMU lookup is replaced
once, at import, by a per-word Pyphen count, so every language counts
syllables with the hyphenation dictionaries that ship inside the ``pyphen``
package -- the same method textstat already uses for every non-English
language and for English words missing from CMUdict. English scores therefore
differ slightly from textstat's online defaults; the thresholds in
``config/accessibility/accessibility.yaml`` are meant for this method. The CMU
dictionary's Python packaging is GPL-licensed, another reason not to use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pyphen import Pyphen  # type: ignore[import-untyped]
from textstat.backend import metrics  # type: ignore[import-untyped]
from textstat.backend.counts import _count_syllables  # type: ignore[import-untyped]

from router.render.config import ReadabilityThresholds


class _PyphenSyllables:
    """Stands in for the CMU dictionary. textstat reads ``mapping[word][0]`` and counts
    the phones that end in a digit; this answers with one such phone per Pyphen
    syllable -- exactly textstat's own Pyphen count (positions + 1) -- remembered
    per word, since alerts repeat their words far more than their texts."""

    def __init__(self, language: str) -> None:
        self._pyphen = Pyphen(lang=language)
        self._known: dict[str, list[list[str]]] = {}

    def __getitem__(self, word: str) -> list[list[str]]:
        phones = self._known.get(word)
        if phones is None:
            phones = [["1"] * (len(self._pyphen.positions(word)) + 1)]
            if len(self._known) < 100_000:
                self._known[word] = phones
        return phones


@lru_cache(maxsize=32)
def _syllables(language: str) -> _PyphenSyllables:
    return _PyphenSyllables(language)


if not hasattr(_count_syllables, "get_cmudict"):  # a textstat that moved it: fail loudly
    raise ImportError("textstat no longer exposes count_syllables.get_cmudict; "
                      "router.render.readability must be adapted to stay offline")
_count_syllables.get_cmudict = _syllables

READING_EASE_LANGUAGES = frozenset({"nl", "en", "de", "es", "fr", "it", "ru"})
_SENTENCES = re.compile(r"[^.!?]+[.!?]*")


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


def scores(text: str, language: str) -> dict[str, float]:
    """Scores for ``text`` in ``language`` (a BCP 47 tag); empty for no words."""
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
