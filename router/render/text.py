"""Screen-reader-safe text: what a screen reader or a speech synthesiser reads well.

Stage: the pure middle (render); no I/O.

Four rewrites, in this order, each reported so an operator can fix the source text:

1. configured symbols become words (``°C`` -> ``graden Celsius``);
2. any other emoji or pictographic symbol is removed (meaning must never sit in a
   symbol alone: a screen reader says "warning sign" or nothing);
3. abbreviations from ``config/accessibility/abbreviations.yaml`` are expanded;
4. runs of two or more ALL-CAPS words (shouting, read letter by letter by some
   readers) become lower case; a single ALL-CAPS word that is neither a defined
   label nor a listed abbreviation is kept (it may be an acronym Tocsin cannot
   guess) and reported as unexplained.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_INVISIBLE = {"\ufe0e", "\ufe0f", "\u200d", "\u20e3"}  # variation selectors, ZWJ, keycap
_REMOVED_CATEGORIES = {"So", "Co", "Cs"}
_TOKEN = re.compile(r"\S+")
_CORE = re.compile(r"^[^\w]*(.*?)[^\w]*$", re.DOTALL)
_SENTENCE_END = (".", "!", "?", ":")
_SPACES = re.compile(r"[ \t]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")  # only these can be symbols to remove
_UPPER_PAIR = re.compile(r"[^\W\d_a-z]{2}")  # no match: no ALL-CAPS word can be present
_UPPER_PAIR_ASCII = re.compile(r"[A-Z][A-Z]")  # the same class on ASCII text, scanned faster


@dataclass(frozen=True)
class SafeText:
    text: str
    removed_symbols: tuple[str, ...] = ()
    expanded: tuple[str, ...] = ()
    unexplained: tuple[str, ...] = ()
    shouted_words: int = 0


def _alternation(keys: list[str]) -> re.Pattern[str] | None:
    if not keys:
        return None
    ordered = sorted(keys, key=len, reverse=True)
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(k) for k in ordered) + r")(?!\w)")


def _is_symbol(char: str) -> bool:
    if char in _INVISIBLE:
        return True
    category = unicodedata.category(char)
    return category in _REMOVED_CATEGORIES or (category == "Sk" and ord(char) > 0x7F)


class ScreenReaderRules:
    """The rewrites for one language, compiled once."""

    def __init__(self, abbreviations: dict[str, str], symbols: dict[str, str],
                 labels: frozenset[str]) -> None:
        self._abbreviations = abbreviations
        self._symbols = symbols
        self._labels = labels | frozenset(k for k in abbreviations if k.isupper())
        self._abbreviation_re = _alternation(list(abbreviations))
        # the keys alone, no look-arounds: ``re`` scans for their first letters fast, and
        # no key anywhere means no whole-word key either (most texts have none)
        self._abbreviation_probe = re.compile("|".join(
            re.escape(k) for k in abbreviations)) if abbreviations else None
        self._symbol_re = re.compile("|".join(re.escape(s) for s in sorted(
            symbols, key=len, reverse=True))) if symbols else None

    def apply(self, text: str) -> SafeText:
        expanded: list[str] = []
        if self._symbol_re is not None:
            text = self._symbol_re.sub(lambda m: f" {self._symbols[m.group(0)]}", text)
        removed: tuple[str, ...] = ()
        if not text.isascii():  # ASCII has no emoji or pictographs
            symbols = [c for c in _NON_ASCII.findall(text) if _is_symbol(c)]
            if symbols:
                removed = tuple(dict.fromkeys(c for c in symbols if c not in _INVISIBLE))
                text = text.translate(dict.fromkeys(map(ord, symbols)))  # all, deleted
        if self._abbreviation_re is not None and self._abbreviation_probe is not None \
                and self._abbreviation_probe.search(text):
            def expand(match: re.Match[str]) -> str:
                expanded.append(match.group(1))
                return self._abbreviations[match.group(1)]
            text = self._abbreviation_re.sub(expand, text)
        unexplained: tuple[str, ...] = ()
        shouted = 0
        if (_UPPER_PAIR_ASCII if text.isascii() else _UPPER_PAIR).search(text):
            text, unexplained, shouted = self._caps(text)
        if "  " in text or "\t" in text:  # else every run of blanks is one space already
            text = _SPACES.sub(" ", text)  # never spans a line: a line break is no blank
        text = "\n".join(line.strip() for line in text.splitlines())
        return SafeText(text.strip(), removed, tuple(dict.fromkeys(expanded)),
                        unexplained, shouted)

    def _is_caps(self, token: str) -> bool:
        core = _CORE.match(token).group(1)  # type: ignore[union-attr]  # always matches
        letters = core.replace("-", "")
        return (len(letters) >= 2 and letters.isalpha() and core.isupper()
                and core not in self._labels)

    def _caps(self, text: str) -> tuple[str, tuple[str, ...], int]:
        tokens = list(_TOKEN.finditer(text))
        caps = [self._is_caps(t.group(0)) for t in tokens]
        pieces, last, unexplained, shouted = [], 0, [], 0
        i = 0
        while i < len(tokens):
            j = i
            while j < len(tokens) and caps[j]:
                j += 1
            if j - i >= 2:
                start_of_sentence = i == 0 or tokens[i - 1].group(0).endswith(_SENTENCE_END)
                for k in range(i, j):
                    word = tokens[k].group(0).lower()
                    if k == i and start_of_sentence:
                        word = _capitalise(word)
                    pieces += [text[last:tokens[k].start()], word]
                    last = tokens[k].end()
                shouted += j - i
            elif j - i == 1:
                unexplained.append(_CORE.match(tokens[i].group(0)).group(1))  # type: ignore[union-attr]
            i = max(j, i + 1)
        pieces.append(text[last:])
        return "".join(pieces), tuple(dict.fromkeys(unexplained)), shouted


def _capitalise(word: str) -> str:
    for index, char in enumerate(word):
        if char.isalpha():
            return word[:index] + char.upper() + word[index + 1:]
    return word


def sentence(text: str) -> str:
    """``text`` ending in sentence punctuation, so a speech synthesiser pauses after it."""
    text = text.strip()
    if not text or text.endswith((".", "!", "?")):
        return text
    return text.rstrip(",;:") + "."
