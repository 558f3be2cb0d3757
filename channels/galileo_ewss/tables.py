"""CAMF v1.0 value tables: semi-axis lengths, hazard names, guidance library texts.

Stage: channel adapter data (pure, no I/O). Values re-typed from the research note
``shared/specs/ewss-wallet-accessibility.md`` §1.3-§1.4, which names its sources
(``yoronneko/qzsl6tool:python/libcamf.py`` and ``thingsat/riot_modules`` CSV tables,
both citing Annex C of CAMF Issue 1.0). The guidance texts are the note's
abbreviations: a receiver shows the library's own full text; Tocsin only sends codes
and uses these to show an operator what a receiver would display.
"""

from __future__ import annotations

AXIS_KM: tuple[float, ...] = (
    0.216, 0.292, 0.395, 0.535, 0.723, 0.978, 1.322, 1.788,
    2.418, 3.269, 4.421, 5.979, 8.085, 10.933, 14.784, 19.992,
    27.035, 36.559, 49.439, 66.855, 90.407, 122.255, 165.324, 223.564,
    302.322, 408.824, 552.846, 747.603, 1010.970, 1367.116, 1848.727, 2500.000,
)
"""A14/A15: semi-axis length in km by 5-bit index (roughly geometric, ~35 % a step).
Always the table, never a formula: one open-source decoder uses a linear formula and
is wrong (note §1.2)."""

HAZARD_CATEGORIES: tuple[tuple[int, int, str], ...] = (
    (1, 13, "CBRNE"), (14, 23, "Env"), (24, 31, "Fire"), (32, 47, "Geo"),
    (48, 53, "Health"), (54, 60, "Infra"), (61, 82, "Met"), (83, 87, "Rescue"),
    (88, 97, "Safety"), (98, 103, "Security"), (104, 112, "Transport"), (113, 113, "Other"),
)
"""A4 code ranges and their category, spelled as CAP 1.2 ``<category>`` values (the
CAMF categories mirror CAP's, note §1.4)."""

HAZARDS: dict[int, str] = {
    1: "air strike", 2: "attack on IT systems", 3: "nuclear weapons attack",
    4: "biological hazard", 5: "chemical hazard", 6: "explosive hazard",
    7: "meteorite impact", 8: "missile attack", 9: "nuclear hazard",
    10: "nuclear power station accident", 11: "radiological hazard",
    12: "satellite/space re-entry debris", 13: "siren test",
    14: "acid rain", 15: "air pollution", 16: "contaminated drinking water", 17: "gas leak",
    18: "marine pollution", 19: "noise pollution", 20: "plague of insects",
    21: "river pollution", 22: "suspended dust", 23: "UV radiation",
    24: "conflagration", 25: "fire brigade deployment", 26: "fire gases", 27: "forest fire",
    28: "fumes", 29: "odour nuisance", 30: "risk of fire", 31: "structure/industrial fire",
    32: "ash fall", 33: "avalanche risk", 34: "crack in ground/sinkhole", 35: "debris flow",
    36: "earthquake", 37: "geomagnetic/solar storm", 38: "glacial ice avalanche",
    39: "landslide", 40: "lava flow", 41: "pyroclastic flow", 42: "snowdrifts",
    43: "tidal wave", 44: "tsunami", 45: "volcanic mud flow", 46: "volcano eruption",
    47: "wind/wave/storm surge",
    48: "epizootic", 49: "food safety alert", 50: "health hazard", 51: "pandemic",
    52: "pest infestation", 53: "risk of infection",
    54: "building collapse", 55: "emergency number outage", 56: "gas supply outage",
    57: "IT systems outage", 58: "power outage", 59: "raw sewage", 60: "telephone line outage",
    61: "black ice", 62: "coastal flooding", 63: "cold wave", 64: "derecho", 65: "drought",
    66: "dust storm", 67: "floating ice/icebergs", 68: "flood", 69: "fog", 70: "hail",
    71: "heat wave", 72: "lightning", 73: "pollens", 74: "rainfall",
    75: "snow storm/blizzard", 76: "snowfall", 77: "storm/thunderstorm", 78: "thawing",
    79: "tornado", 80: "tropical cyclone (hurricane)", 81: "wind chill/frost",
    82: "tropical cyclone (typhoon)",
    83: "dam failure", 84: "dike failure", 85: "explosive ordnance disposal",
    86: "factory accident", 87: "mine hazard",
    88: "bomb/ammunition discovery", 89: "demonstration", 90: "hazardous material accident",
    91: "life-threatening situation", 92: "major event", 93: "missing person/abduction",
    94: "risk of explosion", 95: "safety warning", 96: "undefined flying object",
    97: "unidentified animal",
    98: "chemical attack", 99: "guerrilla attack", 100: "hijack", 101: "shooting/weapons",
    102: "special forces attack", 103: "terrorism",
    104: "aircraft crash", 105: "bridge collapse", 106: "dangerous goods accident",
    107: "inland waterway accident", 108: "nautical disaster/maritime security",
    109: "oil spill", 110: "road traffic incident", 111: "train/rail accident",
    112: "tunnel accident",
    113: "test alert",
}
"""A4: hazard category and type, 1-113 (0 is not used)."""

GUIDANCE_A: dict[int, str] = {
    1: "Leave the danger zone; listen to the media.",
    2: "Leave the area; go to the evacuation point.",
    3: "Seek shelter in a building; stay informed.",
    4: "Go to the cellar or interior rooms on lower floors.",
    5: "In alpine terrain: descend and seek shelter.",
    6: "Go to interior rooms; stop driving.",
    7: "In open terrain: lie face-down and protect your head.",
    8: "Prepare for evacuation (ID, cash).",
    9: "Prepare emergency food and supplies.",
    10: "Stay away from glass.",
    11: "Reduce power use.",
    12: "Reduce water use.",
    13: "Boil water.",
    14: "Keep 1 m distance; wash hands.",
    15: "Do not drink tap water.",
    16: "Watch for escaping gas.",
    17: "Do not go outside or use a car.",
    18: "Do not touch suspicious objects.",
    19: "Do not enter smoke-filled rooms.",
    20: "Do not enter cellars or underground parking.",
    21: "Do not leave pets or livestock outside.",
    22: "Do not touch dead animals.",
    23: "Avoid driving.",
    24: "Avoid metal items and bathing during the thunderstorm.",
    25: "Avoid rooms under the roof and large halls.",
    26: "Avoid the outdoors, trees and power lines.",
    27: "Avoid the danger area.",
    28: "Avoid going out if not necessary.",
    29: "This is only a test.",
    30: "This replaces the previous warning.",
    31: "Conditions have improved; no longer an alert.",
}
"""A11 List A (general required action) of the international library (A9 = 0);
code 0 is empty. Abbreviated texts (see the module docstring)."""

GUIDANCE_B: dict[int, str] = {
    1: "Check weather services and local authorities.",
    2: "Find the official information points.",
    3: "Vulnerable people should not go out.",
    4: "Rescue operation under way; avoid moving.",
    5: "Protect the vulnerable; call emergency services.",
    6: "Follow police and fire brigade announcements.",
    7: "Keep listening to official broadcasts.",
    8: "Call emergency services if you need help leaving.",
    9: "Only call in serious emergencies.",
    10: "Extreme weather: BE AWARE.",
    11: "Severe weather: BE PREPARED.",
    12: "Moderate weather: BE AWARE.",
    13: "Flooding expected: BE PREPARED.",
    14: "Do not enter flood water.",
    15: "Storm: stay sheltered, beware the eye of the storm.",
    16: "Heat: avoid exertion, drink water.",
    17: "Follow forest-fire danger rules.",
    18: "Risk of fire: follow barbecue rules.",
    19: "Tsunami/coast: go to high ground.",
    20: "Do not go to sea.",
    21: "Leave the area; seek higher ground.",
    22: "Earthquake: follow indoor/outdoor/in-car actions.",
    23: "Leave the impact site; improvise a mask; move crosswind.",
    24: "Switch off ventilation, close windows, wear a mask.",
    25: "Have iodine tablets ready; do NOT take them.",
    26: "Take iodine tablets NOW.",
    27: "Save water (no garden watering).",
    28: "Seek shelter if you cannot leave.",
    31: "This replaces the previous warning.",
}
"""A11 List B (monitoring and specific action); 29 and 30 are reserved, 0 is empty."""

GUIDANCE_B_RESERVED: frozenset[int] = frozenset({29, 30})

COUNTRIES: dict[int, str] = {
    11: "Austria", 17: "Belgium", 74: "France", 83: "Germany", 108: "Italy", 111: "Japan",
    127: "Luxembourg", 150: "Netherlands", 208: "Spain",
    500: "EU organisations", 501: "UN organisations", 502: "International",
}
"""A2: the few country/region indexes the research note confirms (the index is the
position in the ISO 3166-1 list sorted by numeric code, not the numeric code). Other
indexes are valid on the wire; they are shown as a number."""

HAZARD_DETAIL_LAYOUTS: dict[int, tuple[tuple[str, int], ...]] = {
    **dict.fromkeys((36,), (("D1", 4), ("D2", 3), ("D3", 4), ("D4", 4))),
    **dict.fromkeys((43, 44), (("D5", 3),)),
    **dict.fromkeys((63, 71), (("D6", 4),)),
    80: (("D7", 3), ("D8", 4), ("D9", 3)),
    82: (("D36", 3), ("D8", 4), ("D9", 3)),
    79: (("D8", 4), ("D9", 3), ("D11", 3)),
    77: (("D8", 4), ("D9", 3), ("D10", 3), ("D16", 3)),
    70: (("D12", 4),),
    74: (("D9", 3), ("D13", 4)),
    76: (("D14", 5), ("D13", 4)),
    68: (("D15", 2),),
    72: (("D16", 3),),
    81: (("D8", 4), ("D6", 4)),
    64: (("D8", 4), ("D9", 3), ("D16", 3), ("D11", 3)),
    69: (("D17", 3), ("D13", 4)),
    75: (("D13", 4), ("D8", 4)),
    65: (("D18", 2),),
    33: (("D19", 3),),
    32: (("D20", 3),),
    47: (("D8", 4), ("D5", 3)),
    37: (("D21", 3),),
    103: (("D22", 3),),
    **dict.fromkeys((27, 30), (("D23", 3),)),
    **dict.fromkeys((16, 18, 21), (("D24", 3),)),
    23: (("D25", 4),),
    **dict.fromkeys((51, 53), (("D26", 5), ("D35", 6))),
    19: (("D27", 4),),
    15: (("D28", 3),),
    **dict.fromkeys((55, 56, 57, 58, 60), (("D29", 5),)),
    **dict.fromkeys((9, 10, 11), (("D30", 4),)),
    5: (("D31", 4),),
    4: (("D32", 2), ("D33", 2)),
    6: (("D34", 2),),
}
"""B4 (A17 = 3): the quantitative D-fields (name, bits) each hazard carries, in order,
MSB first; the rest of the 15 bits is reserved. Hazards not listed carry none.
Hail's D12 is 4 bits here as in libcamf; cssrlib reads 3 -- an open discrepancy the
note records (§1.3) until the specification text is checked."""


def hazard_category(code: int) -> str:
    """The CAP category a CAMF hazard code belongs to."""
    for low, high, name in HAZARD_CATEGORIES:
        if low <= code <= high:
            return name
    raise ValueError(f"hazard code {code} is outside 1-113")
