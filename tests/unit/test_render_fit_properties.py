"""Property: for any text, the length-constrained form fits the channel's budget in
its encoding (GSM-7 septets, else UCS-2) or yields a finding saying by how much --
and is always made of whole slots, never cut."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from render_budgets import CellBroadcastBudget, SmsBudget, Ucs2Budget, septets, ucs2_units

from router.assets import load_accessibility
from router.cap.model import Alert, Area, Info
from router.channel import Capabilities
from router.render import Renderer, compose, fit_findings, preview

RENDERER = Renderer(load_accessibility())
BUDGETS = [CellBroadcastBudget(15), CellBroadcastBudget(1), CellBroadcastBudget(2, True),
           SmsBudget(1), SmsBudget(3), Ucs2Budget(120)]
# GSM-7 letters, a few extension-table characters, non-GSM letters and emoji
ALPHABET = st.sampled_from(list("abcdefghij klmnopqrstuvwxyz ABCDE .,!?é€{}[]~^ łżőש中 😀⚠\n"))
TEXT = st.text(ALPHABET, max_size=400)


def alert(headline: str, description: str, instruction: str, area: str) -> Alert:
    info = Info(language="nl-NL", categories=("Fire",), event="Brand", urgency="Immediate",
                severity="Severe", certainty="Observed", sender_name="Veiligheidsregio",
                headline=headline or None, description=description or None,
                instruction=instruction or None, web="https://www.nl-alert.nl/",
                areas=(Area(area_desc=area or "Rotterdam"),))
    return Alert(identifier="P-1", sender="s@example.nl",
                 sent=datetime(2026, 11, 25, 13, 5, tzinfo=UTC), status="Actual",
                 msg_type="Alert", scope="Public", infos=(info,))


def independent_cost(budget: object, text: str) -> int:
    """The budget's cost recomputed from the raw counts (septets or UCS-2 units)."""
    count = septets(text)
    if isinstance(budget, CellBroadcastBudget):
        per_page = (90 if budget.language_prefix else 93) if count is not None else (
            40 if budget.language_prefix else 41)
        units = count if count is not None else ucs2_units(text)
        return max(1, -(-units // per_page))
    if isinstance(budget, Ucs2Budget):
        return ucs2_units(text)
    assert isinstance(budget, SmsBudget)
    return SmsBudget(budget.parts).cost(text)


@settings(max_examples=60, deadline=None)
@given(TEXT, TEXT, TEXT, TEXT)
def test_fits_in_the_channel_encoding_or_yields_a_finding(headline: str, description: str,
                                                         instruction: str, area: str) -> None:
    rendered = RENDERER.render(alert(headline, description, instruction, area))
    variant = rendered.variant("nl")
    assert variant is not None
    for budget in BUDGETS:
        fitted = rendered.fit("nl", budget)
        assert fitted.text == compose(variant.slots, fitted.dropped)  # whole slots only
        assert fitted.cost == independent_cost(budget, fitted.text)
        rows = preview(rendered, {"channel": Capabilities(budget=lambda _l, b=budget: b)}, {})
        findings = fit_findings(rows)
        if fitted.fits:
            assert fitted.cost <= budget.limit
            assert not findings
        else:
            assert fitted.overflow == fitted.cost - budget.limit > 0
            assert fitted.dropped == tuple(s for s in RENDERER.config.drop_order
                                           if dict(variant.slots).get(s))
            [finding] = findings
            assert f"{fitted.overflow} too many" in finding.message
