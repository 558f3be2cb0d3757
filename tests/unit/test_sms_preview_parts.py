"""The SMS preview shows each part as the phone decodes it, from the very parts the
channel submits: joined, they are the text sent; one per part, in order (hypothesis over
any text the fitting can make GSM-7 or UCS-2)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.sms.adapter import language_parts, preview
from channels.sms.budget import PartsBudget
from channels.sms.encoding import decode_part
from router.assets import load_accessibility
from router.cap import parse_cap
from router.render import Renderer

CONFIG = load_accessibility()
TEMPLATE = (Path(__file__).resolve().parents[2] / "config" / "examples"
            / "nl-alert-fire.xml").read_text(encoding="utf-8")


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
               min_size=1, max_size=400).filter(lambda t: t.strip()))
def test_preview_parts_are_the_submitted_parts_decoded(description: str) -> None:
    escaped = (description.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    raw = TEMPLATE.replace("<description>", f"<description>{escaped} ", 1).encode()
    document = parse_cap(raw).document
    if document is None:
        return  # not an alert the validator takes (e.g. a character XML cannot carry)
    rendered = Renderer(CONFIG).render(document.alert)
    budget = PartsBudget(4)
    forms = preview(document.alert, rendered, budget)
    for form in forms:
        fitted, parts = language_parts(rendered, form.slot, budget, document.alert.identifier)
        if parts is None:
            assert form.pages == ()
            continue
        assert form.pages == tuple(decode_part(part)[1] for part in parts.parts)
        assert len(form.pages) == form.segments
        assert "".join(form.pages) == fitted.text
