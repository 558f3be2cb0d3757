"""Text budgets for the render tests, written here from the 3GPP/GSM figures in
shared/specs/cell-broadcast.md (no channel code is imported): cell broadcast pages
(93 GSM-7 septets or 41 UCS-2 characters a page, 90/40 with a language prefix)
and SMS parts (160/153 septets, 70/67 UCS-2 characters). Septets are counted with
the PyPI ``gsm0338`` codec (an extension-table character costs two)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)


def septets(text: str) -> int | None:
    """GSM-7 septets for ``text``, or None when it needs UCS-2."""
    try:
        return len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        return None


def ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2


@dataclass(frozen=True)
class CellBroadcastBudget:
    """Counted in pages: GSM-7 when every character has a septet, else UCS-2."""

    pages: int = 15
    language_prefix: bool = False

    @property
    def name(self) -> str:
        return f"{self.pages} pages" + (" with language prefix" if self.language_prefix else "")

    @property
    def limit(self) -> int:
        return self.pages

    def cost(self, text: str) -> int:
        count = septets(text)
        if count is not None:
            return math.ceil(count / (90 if self.language_prefix else 93)) or 1
        return math.ceil(ucs2_units(text) / (40 if self.language_prefix else 41)) or 1

    def segments(self, text: str) -> int:
        return self.cost(text)


@dataclass(frozen=True)
class SmsBudget:
    """Counted in parts: one part holds 160 septets / 70 UCS-2, a concatenated part 153 / 67."""

    parts: int = 3

    @property
    def name(self) -> str:
        return f"{self.parts} SMS parts"

    @property
    def limit(self) -> int:
        return self.parts

    def cost(self, text: str) -> int:
        count = septets(text)
        single, multi = (160, 153) if count is not None else (70, 67)
        units = count if count is not None else ucs2_units(text)
        return 1 if units <= single else math.ceil(units / multi)


@dataclass(frozen=True)
class Ucs2Budget:
    """Counted in UCS-2 code units (a channel that always sends UCS-2)."""

    limit: int

    @property
    def name(self) -> str:
        return f"{self.limit} UCS-2 characters"

    def cost(self, text: str) -> int:
        return ucs2_units(text)
