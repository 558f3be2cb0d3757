"""Write the benchmark alerts under tests/fixtures/cap/ (deterministic; run to regenerate).

- small.xml  (~1.5 KB): one Dutch <info>, one polygon.
- medium.xml (~5 KB):  nl-NL and en-GB <info>, a 50-point polygon inside the Netherlands.
- large.xml  (~40 KB): 6 <info> blocks, 10 polygons of 180 points each, resources, geocodes.

All three are valid CAP 1.2 and pass the nl-alert profile, so the benchmark measures
the full validation path rather than an early exit.
"""

from __future__ import annotations

import math
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cap"

TEXTS = {
    "nl-NL": (
        "Grote brand",
        "Grote brand in Rotterdam-Zuid",
        "Er is een grote brand bij een bedrijf in Rotterdam-Zuid. Er komt veel rook vrij. "
        "De rook kan schadelijk zijn voor de gezondheid.",
        "Ga naar binnen. Sluit ramen en deuren. Zet ventilatie uit. "
        "Volg de berichtgeving via de regionale omroep.",
    ),
    "en-GB": (
        "Major fire",
        "Major fire in Rotterdam-Zuid",
        "There is a major fire at a company in Rotterdam-Zuid. A lot of smoke is released. "
        "The smoke may be harmful to health.",
        "Go inside. Close windows and doors. Switch off ventilation. "
        "Follow the news on the regional broadcaster.",
    ),
}


def ring(lat: float, lon: float, radius: float, points: int) -> str:
    """A closed polygon of ``points`` vertices (the last repeats the first)."""
    coords = []
    for i in range(points - 1):
        angle = 2 * math.pi * i / (points - 1)
        wobble = 1 + 0.15 * math.sin(5 * angle)
        coords.append(f"{lat + radius * wobble * math.sin(angle):.5f},"
                      f"{lon + 1.6 * radius * wobble * math.cos(angle):.5f}")
    coords.append(coords[0])
    return " ".join(coords)


def info(language: str, polygons: list[str], extra: str = "") -> str:
    event, headline, description, instruction = TEXTS[language]
    areas = "".join(f"<polygon>{p}</polygon>" for p in polygons)
    return f"""
  <info>
    <language>{language}</language>
    <category>Fire</category>
    <event>{event}</event>
    <responseType>Shelter</responseType>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <eventCode><valueName>NL-Alert</valueName><value>BRAND</value></eventCode>
    <effective>2026-11-25T10:00:00+01:00</effective>
    <expires>2026-11-25T16:00:00+01:00</expires>
    <senderName>Veiligheidsregio Rotterdam-Rijnmond</senderName>
    <headline>{headline}</headline>
    <description>{description}</description>
    <instruction>{instruction}</instruction>
    <web>https://www.nl-alert.nl/</web>
    <contact>0800-1351</contact>
    <parameter><valueName>layer:EU-Alert:Level</valueName><value>2</value></parameter>{extra}
    <area>
      <areaDesc>Rotterdam-Zuid</areaDesc>{areas}
      <geocode><valueName>CBS.GM</valueName><value>GM0599</value></geocode>
    </area>
  </info>"""


def alert(identifier: str, infos: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>vr-rr@example.nl</sender>
  <sent>2026-11-25T10:00:00+01:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>{infos}
</alert>
"""


def compact_info(language: str, polygon: str) -> str:
    """Just what NL-Alert needs: the small alert is bilingual like every NL-Alert."""
    event, headline, description, instruction = TEXTS[language]
    return f"""
  <info>
    <language>{language}</language>
    <category>Fire</category>
    <event>{event}</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <senderName>VR Rotterdam-Rijnmond</senderName>
    <headline>{headline}</headline>
    <description>{description[:50]}</description>
    <instruction>{instruction[:30]}</instruction>
    <area><areaDesc>Rotterdam-Zuid</areaDesc><polygon>{polygon}</polygon></area>
  </info>"""


RESOURCE = """
    <resource>
      <resourceDesc>Kaart van het gebied</resourceDesc>
      <mimeType>image/png</mimeType>
      <size>48211</size>
      <uri>https://example.nl/kaart.png</uri>
    </resource>"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    small_polygon = ring(51.88, 4.49, 0.02, 8)
    small = alert("NL-BENCH-S", compact_info("nl-NL", small_polygon)
                  + compact_info("en-GB", small_polygon))
    medium_polygon = ring(51.88, 4.49, 0.03, 50)
    medium = alert("NL-BENCH-M", info("nl-NL", [medium_polygon]) + info("en-GB", [medium_polygon]))
    polygons = [ring(51.7 + 0.05 * k, 4.3 + 0.07 * k, 0.02, 180) for k in range(10)]
    large_infos = "".join(
        info(language, polygons[k * 2:k * 2 + 2] if k < 5 else [], RESOURCE)
        for k, language in enumerate(["nl-NL", "en-GB"] * 3)
    )
    large = alert("NL-BENCH-L", large_infos.replace(
        "<areaDesc>Rotterdam-Zuid</areaDesc>\n      <geocode>",
        "<areaDesc>Rotterdam-Zuid</areaDesc><circle>51.88,4.49 5</circle>\n      <geocode>"))
    for name, text in (("small", small), ("medium", medium), ("large", large)):
        path = OUT / f"{name}.xml"
        path.write_text(text, encoding="utf-8")
        print(f"{path.name}: {len(text.encode())} bytes")


if __name__ == "__main__":
    main()
