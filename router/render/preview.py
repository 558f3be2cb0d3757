"""What each channel will carry, per language: the fitted form and its budget use.

Stage: the pure middle (render); no I/O. Shared by ``GET /api/v1/alerts/{id}/variants``
and ``tocsin preview`` so the operator sees the same thing in both.

Each configured channel's ``capabilities.text_budget(language)`` is asked, as the
channel itself will ask it at send time; the configured reference short forms
(90 and 360 characters) are shown beside them. A budget object that also has
``segments(text) -> int`` (cell-broadcast pages, SMS parts) gets that count shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.cap import Finding
from router.cap.findings import warning
from router.channel import Capabilities, CharacterBudget, FittedText, TextBudget
from router.render.variants import RenderedAlert


@dataclass(frozen=True)
class FormRow:
    target: str
    kind: str  # "channel" | "reference"
    budget: str
    fitted: FittedText
    segments: int | None = None
    unlimited: bool = False

    def as_dict(self) -> dict[str, Any]:
        f = self.fitted
        return {
            "target": self.target, "kind": self.kind, "language": f.language,
            "budget": self.budget, "cost": f.cost,
            "limit": None if self.unlimited else f.limit,
            "use_percent": None if self.unlimited or not f.limit
            else round(100 * f.cost / f.limit, 1),
            "segments": self.segments, "fits": f.fits, "overflow": f.overflow,
            "dropped": list(f.dropped), "text": f.text,
        }


def _segments(budget: TextBudget, text: str) -> int | None:
    count = getattr(budget, "segments", None)
    return int(count(text)) if callable(count) else None


def _row(rendered: RenderedAlert, target: str, kind: str, language: str,
         budget: TextBudget | None) -> FormRow:
    if budget is None:
        variant = rendered.variant(language)
        text = variant.summary if variant else ""  # the longest form
        return FormRow(target, kind, "no limit",
                       FittedText(language, text, len(text), len(text)), unlimited=True)
    fitted = rendered.fit(language, budget)
    return FormRow(target, kind, budget.name, fitted, _segments(budget, fitted.text))


def preview(rendered: RenderedAlert, channels: Mapping[str, Capabilities],
            reference_forms: Mapping[str, int]) -> list[FormRow]:
    rows = []
    for name, capabilities in sorted(channels.items()):
        for language in rendered.languages:
            rows.append(_row(rendered, name, "channel", language,
                             capabilities.text_budget(language)))
    for name, limit in reference_forms.items():
        for language in rendered.languages:
            rows.append(_row(rendered, name, "reference", language,
                             CharacterBudget(f"{limit} characters", limit)))
    return rows


def fit_findings(rows: list[FormRow]) -> list[Finding]:
    """A finding for every form that cannot fit, saying by how much."""
    return [warning(
        "render.fit.too-long", f"/variants/{row.target}/{row.fitted.language}",
        f"{row.target} ({row.budget}): even without {', '.join(row.fitted.dropped) or 'any slot'}"
        f" the {row.fitted.language} text needs {row.fitted.cost} of {row.fitted.limit} "
        f"units, {row.fitted.overflow} too many; shorten hazard, place or guidance")
        for row in rows if not row.fitted.fits]
