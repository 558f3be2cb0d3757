"""The cell broadcast text budget: how much of 15 pages a text takes.

Stage: a leaf of the cell broadcast adapter; renderers and previews use it
through ``Capabilities.budget``. The unit is the GSM-7 septet: a budget of
``pages`` pages has ``93 * pages`` units, and a plain GSM-7 text with a
language DCS costs exactly its septets (an extension character counts 2).
Text that goes out with a language prefix (90 per page) or as UCS-2 (41 or
40 per page) is laid out on real pages and its last page is counted in
proportion, so ``cost <= limit`` holds exactly when the text fits the pages
and a longer text always costs more. A bilingual message measures both parts
in the alphabet the whole message will use (``force_ucs2``). ``segments`` counts
the pages a text goes out on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from channels.cell_broadcast.alphabet import non_gsm7
from channels.cell_broadcast.coding import (
    GSM7_PER_PAGE,
    MAX_PAGES,
    UCS2_PER_PAGE,
    Coding,
    choose_coding,
)
from channels.cell_broadcast.pages import layout, normalise


@functools.lru_cache(maxsize=2048)
def units(text: str, coding: Coding) -> int:
    """Septet-equivalents ``text`` occupies when coded with ``coding`` (cached: a pure
    function of immutable arguments, asked again for every candidate the fitting of
    a bilingual message tries)."""
    if not text:
        return 0
    pages = layout(normalise(text), coding)
    width = 2 if coding.ucs2 else 1
    last = len(pages[-1]) // width
    return GSM7_PER_PAGE * (len(pages) - 1) + -(-GSM7_PER_PAGE * last // coding.per_page)


@dataclass(frozen=True)
class CbsBudget:
    """A ``router.channel.TextBudget`` for one language of a CBS message."""

    language: str | None
    pages: int = MAX_PAGES
    force_ucs2: bool = False
    reserve: int = 0
    """Units already taken by other parts of the same message (a bilingual text)."""

    @property
    def name(self) -> str:
        return (f"{self.pages} CBS pages ({self.pages * GSM7_PER_PAGE} GSM-7 or "
                f"{self.pages * UCS2_PER_PAGE} UCS-2 characters)"
                + (f", {self.reserve} units used by the other language" if self.reserve
                   else ""))

    @property
    def limit(self) -> int:
        return max(0, self.pages * GSM7_PER_PAGE - self.reserve)

    def coding(self, text: str) -> Coding:
        return choose_coding(self.language, text, force_ucs2=self.force_ucs2)

    def cost(self, text: str) -> int:
        return units(text, self.coding(text))

    def gsm7_blockers(self, text: str) -> str:
        """The characters that make ``text`` UCS-2, each once (empty when it is GSM-7,
        or when the whole message is UCS-2 anyway: replacing them gains nothing)."""
        return "" if self.force_ucs2 else non_gsm7(text)

    def segments(self, text: str) -> int:
        """CBS pages of the message ``text`` goes out in (``tocsin preview`` shows them).

        Alone (no ``reserve``) these are exactly the pages ``text`` is laid out on in
        its coding, since a unit count is a whole 93 per full page plus a share of the
        last. As a part of a bilingual message (``reserve`` units taken by the other
        language and the separator, measured in the alphabet the whole message uses),
        they are the pages of the whole message from the units added up: within one
        page of the real layout, which a page boundary can shift (each part's last
        page is counted in proportion; in 20,000 random two-part texts 1 % were off
        by one). The composition itself checks the real layout."""
        used = self.reserve + self.cost(text)
        return -(-used // GSM7_PER_PAGE)

    def shortfall(self, text: str) -> str:
        """How far over the budget ``text`` is, in the units a reader knows."""
        coding = self.coding(text)
        over = self.cost(text) - self.limit
        if over <= 0:
            return "it fits"
        chars = -(-over * coding.per_page // GSM7_PER_PAGE)
        return (f"{over} GSM-7 septet units too long (about {chars} {coding.alphabet} "
                f"characters at {coding.per_page} per page, {self.pages} pages at most)")
