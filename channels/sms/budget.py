"""The SMS text budget: a number of concatenated parts, counted in the text's own coding.

Stage: channel adapter (pure). Renderers ask ``cost(text)`` and compare it with
``limit``; they never need to know that one Greek letter turns a whole message
into UCS-2 and halves the room.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels import gsm7
from channels.sms.encoding import MAX_PARTS, Coding, coding_for, part_count

DEFAULT_MAX_PARTS = 4


@dataclass(frozen=True)
class PartsBudget:
    """At most ``limit`` SMS parts (160/153 GSM-7 septets or 70/67 UCS-2 units each)."""

    limit: int = DEFAULT_MAX_PARTS

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PARTS:
            raise ValueError(f"max_parts must be between 1 and {MAX_PARTS}")

    @property
    def name(self) -> str:
        return f"{self.limit} SMS part{'s' if self.limit != 1 else ''}"

    def cost(self, text: str) -> int:
        return part_count(text)

    def gsm7_blockers(self, text: str) -> str:
        """The characters that make ``text`` UCS-2, each once (empty when it is GSM-7)."""
        if coding_for(text) is Coding.GSM7:
            return ""
        return gsm7.outside(text)

    def segments(self, text: str) -> int:
        """SMS parts ``text`` goes out in (``tocsin preview`` shows them): the cost
        itself, since this budget counts parts."""
        return part_count(text)
