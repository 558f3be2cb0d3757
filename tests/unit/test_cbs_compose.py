"""The CBS text budget, the bilingual NL-Alert composition, identifiers and the
warning area coordinates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.cell_broadcast.area import MAX_OCTETS, Shape, encode, quantise, warning_area
from channels.cell_broadcast.budget import CbsBudget
from channels.cell_broadcast.compose import plan
from channels.cell_broadcast.config import Deployment, Identifiers, Languages, load_deployment
from channels.cell_broadcast.identifiers import additional_language_id, message_identifier
from channels.cell_broadcast.pages import TooManyPagesError
from channels.cell_broadcast.pages import encode as encode_pages
from channels.mock.cbc import decode_page
from router.cap import parse_cap
from router.channel import (
    Alert,
    FittedText,
    NotApplicableError,
    PermanentError,
    PlainVariants,
    TextBudget,
)
from router.errors import FailureReason

REPO = Path(__file__).resolve().parents[2]
FIRE = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_bytes()


def alert_from(raw: bytes) -> Alert:
    document = parse_cap(raw).document
    assert document is not None
    return document.alert


def with_fields(**replace: str) -> Alert:
    text = FIRE.decode()
    for old, new in replace.items():
        text = text.replace(old, new)
    return alert_from(text.encode())


class FixedVariants:
    """Variants with one fixed text per language (what a renderer would hand over)."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.texts)

    def fit(self, language: str, budget: TextBudget) -> FittedText:
        text = self.texts[language]
        return FittedText(language, text, budget.cost(text), budget.limit)


# -- budget -------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc €д{")), max_size=1500),
       st.sampled_from(["nl", "xx", None]))
def test_budget_cost_fits_exactly_when_the_pages_do(text: str, language: str | None) -> None:
    budget = CbsBudget(language)
    try:
        encode_pages(text, budget.coding(text))
    except TooManyPagesError:
        assert budget.cost(text) > budget.limit
    else:
        assert budget.cost(text) <= budget.limit


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc €д{\n")), max_size=1500),
       st.sampled_from(["nl", "xx", None]), st.booleans())
def test_budget_segments_are_the_pages_a_text_is_laid_out_on(
        text: str, language: str | None, force_ucs2: bool) -> None:
    budget = CbsBudget(language, force_ucs2=force_ucs2)
    try:
        encoded = encode_pages(text, budget.coding(text))
    except TooManyPagesError:
        assert budget.segments(text) > budget.pages
    else:
        assert budget.segments(text) == (encoded.page_count if text else 0)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc €д{")), min_size=1, max_size=700),
       st.text(alphabet=st.sampled_from(list("abc €д{")), min_size=1, max_size=500))
def test_a_bilingual_part_counts_the_pages_of_the_whole_message_within_one(
        dutch: str, english: str) -> None:
    text = dutch + "\n\n" + english
    whole = CbsBudget("nl")
    coding = whole.coding(text)
    try:
        real = encode_pages(text, coding).page_count
    except TooManyPagesError:
        return
    part = CbsBudget("nl", force_ucs2=coding.ucs2,
                     reserve=CbsBudget("nl", force_ucs2=coding.ucs2).cost("\n\n" + english))
    assert abs(part.segments(dutch) - real) <= 1
    assert whole.segments(text) == real  # the composed text itself: exact


def test_the_fire_alert_goes_out_on_the_pages_the_budget_counts() -> None:
    alert = alert_from(FIRE)
    [message] = plan(alert, PlainVariants(alert), Deployment())
    assert len(message.languages) == 2  # one bilingual NL-Alert message
    assert CbsBudget("nl").segments(message.text) == message.encoded.page_count > 1


def test_budget_counts_septets_for_gsm7_and_page_share_for_ucs2() -> None:
    budget = CbsBudget("nl")
    assert budget.limit == 1395
    assert budget.cost("a" * 100) == 100
    assert budget.cost("€") == 2
    assert budget.cost("д" * 40) == 93  # a full UCS-2 page with the language prefix
    assert budget.cost("д" * 41) == 93 + 3
    assert "1395 GSM-7 or 615 UCS-2" in budget.name
    assert "about 5 GSM-7 characters" in budget.shortfall("a" * 1400)


# -- composition --------------------------------------------------------------------------


def test_nl_alert_is_one_message_dutch_then_english() -> None:
    [message] = plan(alert_from(FIRE), PlainVariants(alert_from(FIRE)), Deployment())
    assert message.message_id == 4371
    assert message.encoded.coding.dcs == 0x05
    assert message.languages == ("nl-nl", "en-gb")
    dutch, english = message.text.split("\n\n")
    assert dutch.startswith("Grote brand in Rotterdam-Zuid")
    assert english.startswith("Major fire in Rotterdam-Zuid")
    shown = "".join(decode_page(0x05, p)["text"] for p in message.encoded.pages)
    assert shown == message.text


def test_english_keeps_its_share_and_dutch_takes_the_rest() -> None:
    variants = PlainVariants(with_fields(**{
        "Er is een grote brand bij een bedrijf aan de Waalhaven.": "Brand. " * 160,
        "There is a major fire at a company on the Waalhaven.": "Fire. " * 100}))
    [message] = plan(alert_from(FIRE), variants, Deployment())
    dutch, english = message.text.split("\n\n")
    # English (600-septet description) does not fit its third (465 of 1395): it drops
    # the description. Dutch (1120-septet description) takes what English left.
    assert "Brand. " * 160 in dutch
    assert "Fire." not in english
    assert english.startswith("Major fire")
    assert "Go inside." in english
    assert len(message.text) <= 1395


def test_bilingual_text_that_needs_ucs2_is_measured_as_ucs2() -> None:
    variants = FixedVariants({"nl-NL": "Brand " * 40, "en-GB": "Fire д " * 30})
    [message] = plan(alert_from(FIRE), variants, Deployment())
    assert message.encoded.coding.dcs == 0x11
    assert message.encoded.page_count == 12  # 240 + 2 + 209 UTF-16 units at 40 a page
    shown = "".join(decode_page(0x11, p)["text"] for p in message.encoded.pages)
    assert shown == message.text
    # As UCS-2, 360 + 280 characters exceed 15 x 40, though as septets they would not.
    too_long = FixedVariants({"nl-NL": "Brand " * 60, "en-GB": "Fire д " * 40})
    with pytest.raises(PermanentError) as raised:
        plan(alert_from(FIRE), too_long, Deployment())
    assert raised.value.reason is FailureReason.TOO_LONG
    assert "UCS-2 characters at 40 per page" in str(raised.value)


def test_text_that_cannot_fit_fails_permanently_saying_by_how_much() -> None:
    variants = FixedVariants({"nl-NL": "a" * 1400})
    deployment = Deployment(languages=Languages(mode="single"))
    with pytest.raises(PermanentError) as raised:
        plan(alert_from(FIRE), variants, deployment)
    assert raised.value.reason is FailureReason.TOO_LONG
    assert "5 GSM-7 septet units too long" in str(raised.value)


def test_separate_languages_use_the_additional_language_identifier() -> None:
    deployment = Deployment(languages=Languages(mode="separate"))
    main, extra = plan(alert_from(FIRE), PlainVariants(alert_from(FIRE)), deployment)
    assert (main.message_id, main.encoded.coding.dcs) == (4371, 0x05)
    assert (extra.message_id, extra.encoded.coding.dcs, extra.slot) == (4384, 0x01,
                                                                       "additional")


def test_single_language_alert_goes_out_alone() -> None:
    english_only = FIRE.decode().split("<info>")
    raw = (english_only[0] + "<info>" + english_only[2]).encode()
    [message] = plan(alert_from(raw), PlainVariants(alert_from(raw)), Deployment())
    assert message.languages == ("en-gb",)
    assert message.encoded.coding.dcs == 0x01


# -- identifiers --------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "expected"), [
    ({}, 4371),
    ({"<severity>Severe</severity>": "<severity>Extreme</severity>"}, 4372),
    ({"<status>Actual</status>": "<status>Test</status>"}, 4380),
    ({"<status>Actual</status>": "<status>Exercise</status>"}, 4381),
    ({"<area>": "<parameter><valueName>EU-Alert-Level</valueName><value>1</value>"
                "</parameter><area>"}, 4370),
])
def test_nl_identifier_table(fields: dict[str, str], expected: int) -> None:
    alert = with_fields(**fields)
    assert message_identifier(Identifiers(), alert, alert.infos[0]) == expected


def test_cmas_matrix_and_not_applicable() -> None:
    cmas = Identifiers(scheme="cmas", rules=(), pools={
        i: (i,) for i in (*range(4371, 4379), 4380, 4381)})
    alert = with_fields(**{"<certainty>Observed</certainty>": "<certainty>Likely</certainty>"})
    assert message_identifier(cmas, alert, alert.infos[0]) == 4376
    moderate = with_fields(**{"<severity>Severe</severity>": "<severity>Moderate</severity>"})
    with pytest.raises(NotApplicableError):
        message_identifier(cmas, moderate, moderate.infos[0])
    draft = with_fields(**{"<status>Actual</status>": "<status>Draft</status>"})
    with pytest.raises(NotApplicableError):
        message_identifier(Identifiers(), draft, draft.infos[0])
    assert [additional_language_id(i) for i in (4370, 4382, 4396, 4398, 6400)] == [
        4383, 4395, 4397, 4399, None]


def test_shipped_deployment_file_is_the_builtin_default() -> None:
    assert load_deployment(str(REPO / "config" / "cell_broadcast.yaml")) == Deployment()


# -- warning area coordinates -------------------------------------------------------------


def read_wac(data: bytes) -> list[tuple[int, list[tuple[float, float]], float]]:
    """A decoder written from the prose of ATIS-0700041 as Android reads it: MSB-first
    bit fields, 4-bit type, 10-bit length in octets incl. the header, 2 spare bits."""
    length = int.from_bytes(data[:2], "little")
    body, shapes, offset = data[2:], [], 0
    assert len(body) == length
    while offset < length:
        head = int.from_bytes(body[offset:offset + 2], "big")
        kind, size = head >> 12, (head >> 2) & 0x3FF
        bits = int.from_bytes(body[offset + 2:offset + size], "big")
        width = (size - 2) * 8
        count = width // 44 if kind == 2 else 1
        points = []
        for n in range(count):
            value = (bits >> (width - 44 * (n + 1))) & ((1 << 44) - 1)
            points.append(((value >> 22) * 180 / 2**22 - 90, (value & 0x3FFFFF) * 360 / 2**22 - 180))
        radius = (bits >> (width - 64)) & 0xFFFFF if kind == 3 else 0
        shapes.append((kind, points, radius / 64))
        offset += size
    return shapes


points = st.tuples(st.floats(-89.9, 89.9), st.floats(-179.9, 179.9))


@given(st.lists(points, min_size=3, max_size=30), points, st.floats(0, 500))
def test_wac_round_trips_within_quantisation(polygon: list[tuple[float, float]],
                                             centre: tuple[float, float],
                                             radius: float) -> None:
    data = encode([Shape("polygon", tuple(polygon)), Shape("circle", (centre,), radius)])
    [(kind_p, decoded, _), (kind_c, [decoded_centre], decoded_radius)] = read_wac(data)
    assert (kind_p, kind_c) == (2, 3)
    step = 360 / 2**22
    assert all(abs(a - b) <= step and abs(c - d) <= step
               for (a, c), (b, d) in zip(polygon, decoded, strict=True))
    assert abs(decoded_centre[0] - centre[0]) <= step
    assert abs(decoded_radius - radius) <= 1 / 64


def test_example_area_and_a_detailed_polygon_is_simplified_to_fit() -> None:
    area = warning_area(alert_from(FIRE), {})
    assert area.coordinates is not None
    assert area.tolerance_deg == 0
    assert len(read_wac(area.coordinates)[0][1]) == 4  # the closing vertex is implied
    assert quantise(51.895, 4.43) == tuple(int(v) for v in
                                           ((51.895 + 90) / 180 * 2**22, (4.43 + 180) / 360 * 2**22))
    ring = " ".join(f"{52 + 0.1 * __import__('math').sin(i / 100):.5f},"
                    f"{5 + 0.1 * __import__('math').cos(i / 100):.5f}" for i in range(629))
    detailed = with_fields(**{"51.8950,4.4300 51.8950,4.4900 51.8700,4.4900 51.8700,4.4300 "
                              "51.8950,4.4300": ring + " " + ring.split(" ")[0]})
    big = warning_area(detailed, {})
    assert big.coordinates is not None
    assert len(big.coordinates) <= MAX_OCTETS
    assert big.tolerance_deg > 0
    assert big.as_detail()["simplification_tolerance_deg"] == big.tolerance_deg


def test_configured_cell_list_is_kept() -> None:
    alert = with_fields(**{"</polygon>": "</polygon><geocode><valueName>CBS</valueName>"
                                         "<value>GM0599</value></geocode>"})
    area = warning_area(alert, {"CBS=GM0599": ("204-08-1234-5678", "204-08-1234-5679")})
    assert area.cells == ("204-08-1234-5678", "204-08-1234-5679")
