"""Preview equals broadcast for the satellite channel: what ``/variants`` and the
console's map show for ``galileo_ewss`` is what its ``send`` hands the uplink.

Property: for generated areas (a triangle to a long strip of polygon points, a circle
beside it, anywhere from Zeeland to Groningen) each preview form's text is the receiver's
view of the submitted CAMF bits, and its ellipse is the one those bits decode to, with
the over-warning ratio the receipt records; the drawn outline lies on that ellipse."""

from __future__ import annotations

import asyncio
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.galileo_ewss import camf, geometry
from channels.galileo_ewss.channel import receiver_text
from channels.galileo_ewss.display import receiver_view
from router.assets import load_accessibility
from router.cap import parse_cap
from router.render import Renderer, preview
from tests.unit.test_ewss_channel import EXAMPLE, REPO, channel, delivery

RENDERER = Renderer(load_accessibility(REPO / "config" / "accessibility"))
OLD_POLYGON = b"51.8950,4.4300 51.8950,4.4900 51.8700,4.4900 51.8700,4.4300 51.8950,4.4300"


@st.composite
def areas(draw: st.DrawFn) -> bytes:
    lat = draw(st.floats(51.3, 53.3))
    lon = draw(st.floats(3.5, 7.0))
    count = draw(st.integers(3, 8))
    spread = draw(st.floats(0.01, 0.6))
    ring = [(lat + spread * math.sin(2 * math.pi * k / count) * draw(st.floats(0.3, 1)),
             lon + spread * math.cos(2 * math.pi * k / count) * draw(st.floats(0.3, 1)))
            for k in range(count)]
    text = " ".join(f"{a:.4f},{b:.4f}" for a, b in [*ring, ring[0]]).encode()
    raw = EXAMPLE.read_bytes().replace(OLD_POLYGON, text)
    if draw(st.booleans()):
        circle = f"<circle>{lat:.4f},{lon + 0.5:.4f} {draw(st.floats(0.5, 20)):.2f}</circle>"
        raw = raw.replace(b"</polygon>", b"</polygon>" + circle.encode(), 1)
    return raw


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(areas())
def test_ewss_preview_is_what_the_uplink_receives(raw: bytes) -> None:
    built, uplink = channel()
    document = parse_cap(raw).document
    assert document is not None
    rendered = RENDERER.render(document.alert)
    rows = [r.as_dict() for r in preview(rendered, {"galileo_ewss": built.capabilities}, {},
                                         document.alert)]
    receipt = asyncio.run(built.send(delivery(raw)))
    sent = [camf.decode(m.camf) for m in uplink.messages.values()]
    assert len(rows) == len(sent) == len(receipt.detail["messages"])
    for row, bits, entry in zip(rows, sent, receipt.detail["messages"], strict=True):
        assert row["text"] == receiver_text(receiver_view(bits))
        ellipse = camf.ellipse(bits)
        shown = row["ellipse"]
        assert (shown["latitude"], shown["longitude"], shown["semi_major_km"],
                shown["semi_minor_km"], shown["azimuth_deg"]) == (
            ellipse.latitude, ellipse.longitude, ellipse.semi_major_km,
            ellipse.semi_minor_km, ellipse.azimuth_deg)
        assert shown["overwarning_ratio"] == entry["overwarning_ratio"]
        # the drawn outline is that ellipse's boundary: each point just inside is
        # covered, just outside is not
        centre = (ellipse.latitude, ellipse.longitude)
        for lat, lon in shown["outline"][::9]:
            inner = (centre[0] + 0.98 * (lat - centre[0]), centre[1] + 0.98 * (lon - centre[1]))
            outer = (centre[0] + 1.02 * (lat - centre[0]), centre[1] + 1.02 * (lon - centre[1]))
            assert geometry.uncovered(ellipse, [inner]) == []
            assert geometry.uncovered(ellipse, [outer]) == [outer]


def test_an_alert_ewss_does_not_carry_says_why() -> None:
    built, _ = channel()
    raw = EXAMPLE.read_bytes().replace(b"<severity>Severe</severity>",
                                       b"<severity>Minor</severity>")
    document = parse_cap(raw).document
    assert document is not None
    [row] = preview(RENDERER.render(document.alert), {"galileo_ewss": built.capabilities}, {},
                    document.alert)
    assert row.error is not None
    assert "severity Minor" in row.error
