"""What each channel will carry, per language: the fitted form and its budget use.

Stage: the pure middle (render); no I/O. Shared by ``GET /api/v1/alerts/{id}/variants``
and ``tocsin preview`` so the operator sees the same thing in both.

Preview equals broadcast. A channel that declares ``capabilities.preview`` (cell
broadcast, SMS) is asked for what it would send, computed by the very code its
``send`` runs: the cell broadcast message as composed and paged (a bilingual
NL-Alert is one form of two languages), the SMS parts per language. Any other
channel's ``capabilities.text_budget(language)`` is asked, as that channel itself
asks it at send time. The configured reference short forms (90 and 360
characters) are shown beside them. A budget object that also has
``segments(text) -> int`` gets that count shown.

Nothing here runs unless asked: ``preview`` is a pure function of the stored
variants and the alert, called by ``tocsin preview`` and ``GET .../variants``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.cap import Finding
from router.cap.findings import warning
from router.cap.model import Alert
from router.channel import Capabilities, CharacterBudget, FittedText, PreviewForm, TextBudget
from router.render.variants import RenderedAlert


@dataclass(frozen=True)
class FormRow:
    target: str
    kind: str  # "channel" | "reference"
    budget: str
    fitted: FittedText
    segments: int | None = None
    unlimited: bool = False
    languages: tuple[str, ...] = ()
    """The variants one message is built from (two for a bilingual message)."""
    alphabet: str | None = None
    error: str | None = None
    notes: tuple[tuple[str, str], ...] = ()
    pages: tuple[str, ...] = ()
    ellipse: Mapping[str, Any] | None = None

    @property
    def fits(self) -> bool:
        return self.error is None and self.fitted.fits

    def as_dict(self) -> dict[str, Any]:
        f = self.fitted
        return {
            "target": self.target, "kind": self.kind, "language": f.language,
            "languages": list(self.languages or (f.language,)),
            "alphabet": self.alphabet, "error": self.error,
            "budget": self.budget, "cost": f.cost,
            "limit": None if self.unlimited else f.limit,
            "use_percent": None if self.unlimited or not f.limit
            else round(100 * f.cost / f.limit, 1),
            "segments": self.segments, "fits": self.fits, "overflow": f.overflow,
            "dropped": list(f.dropped), "text": f.text, "pages": list(self.pages),
            "ellipse": dict(self.ellipse) if self.ellipse is not None else None,
        }


def _segments(budget: TextBudget, text: str) -> int | None:
    count = getattr(budget, "segments", None)
    return int(count(text)) if callable(count) else None


def _row(rendered: RenderedAlert, target: str, kind: str, language: str,
         budget: TextBudget | None, *, short: bool = False) -> FormRow:
    if budget is None:
        variant = rendered.variant(language)
        text = variant.summary if variant else ""  # the longest form
        return FormRow(target, kind, "no limit",
                       FittedText(language, text, len(text), len(text)), unlimited=True)
    fitted = rendered.fit_short(language, budget) if short else rendered.fit(language, budget)
    return FormRow(target, kind, budget.name, fitted, _segments(budget, fitted.text))


def _sent_row(target: str, form: PreviewForm) -> FormRow:
    """A channel's own preview of one message as a row: the language is the message's
    languages joined with "+" (``nl-NL+en-GB``: one message, both texts)."""
    fitted = FittedText("+".join(form.languages), form.text, form.cost, form.limit,
                        form.dropped)
    return FormRow(target, "channel", form.budget, fitted, form.segments,
                   languages=form.languages, alphabet=form.alphabet, error=form.error,
                   notes=form.notes, pages=form.pages, ellipse=form.ellipse)


def preview(rendered: RenderedAlert, channels: Mapping[str, Capabilities],
            reference_forms: Mapping[str, int], alert: Alert | None = None
            ) -> list[FormRow]:
    """Every channel's forms, then the reference forms. With ``alert``, a channel that
    previews itself shows what its ``send`` builds; without it (or for any other
    channel) each language is fitted to the channel's budget."""
    rows = []
    for name, capabilities in sorted(channels.items()):
        if alert is not None and capabilities.preview is not None:
            rows += [_sent_row(name, form) for form in capabilities.preview(alert, rendered)]
            continue
        for language in rendered.languages:
            rows.append(_row(rendered, name, "channel", language,
                             capabilities.text_budget(language)))
    for name, limit in reference_forms.items():
        for language in rendered.languages:
            rows.append(_row(rendered, name, "reference", language,
                             CharacterBudget(f"{limit} characters", limit), short=True))
    return rows


def short_findings(rows: list[FormRow]) -> list[Finding]:
    """A finding for every reference short form nothing fits, naming the shortest
    candidate and its length."""
    return [warning(
        "render.short.none-fits", f"/variants/{row.target}/{row.fitted.language}",
        f"no {row.target} form fits for {row.fitted.language}: the shortest candidate is "
        f"{row.fitted.cost} of {row.fitted.limit} characters: {row.fitted.text!r}; "
        "write a shorter <headline>")
        for row in rows if row.kind == "reference" and not row.fitted.fits]


def fit_findings(rows: list[FormRow]) -> list[Finding]:
    """A finding for every form that cannot fit, saying by how much (or why a channel
    that previews itself cannot send it), and each note a channel gave."""
    notes = [warning(code, f"/variants/{row.target}/{row.fitted.language}", message)
             for row in rows for code, message in row.notes]
    failed = [warning("render.fit.too-long", f"/variants/{row.target}/{row.fitted.language}",
                      f"{row.target}: {row.error}") for row in rows if row.error]
    return notes + failed + [warning(
        "render.fit.too-long", f"/variants/{row.target}/{row.fitted.language}",
        f"{row.target} ({row.budget}): even without {', '.join(row.fitted.dropped) or 'any slot'}"
        f" the {row.fitted.language} text needs {row.fitted.cost} of {row.fitted.limit} "
        f"units, {row.fitted.overflow} too many; shorten hazard, place or guidance")
        for row in rows if row.error is None and not row.fitted.fits]
