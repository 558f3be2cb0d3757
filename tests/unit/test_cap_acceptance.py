"""Strict where meaning breaks, tolerant where it does not, and errors that point the
right way (docs/validation.md):

- a misplaced element is named, with where it belongs (it was ``cap.datetime-format``
  with a hint about "Z" for a misplaced ``<expires>``);
- a well-formed but unregistered language subtag and an empty ``<references/>`` on a
  plain Alert are warnings; an Update or Cancel without references stays an error;
- an alert expired on arrival gets ``cap.expires.past`` (warning, or error when asked).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.cap import parse_cap
from router.cap.rules import arrival_findings
from router.cap.schema import child_order
from router.cli import main
from tests.unit.test_cap_rules import BASE, mutate

CORPUS = Path(__file__).resolve().parents[1] / "conformance" / "cap-corpus"
INFO_ORDER = [slot.name for slot in child_order()["info"]]


def _codes(data: bytes) -> dict[str, str]:
    return {f.code: f.severity.value for f in parse_cap(data).findings}


def test_a_misplaced_expires_says_where_it_belongs() -> None:
    data = mutate(("    <expires>2026-11-25T14:00:00+01:00</expires>\n", ""),
                  ("<web>https://www.nl-alert.nl/</web>",
                   "<web>https://www.nl-alert.nl/</web><expires>2026-11-25T14:00:00+01:00"
                   "</expires>"))
    (finding,) = parse_cap(data).findings
    assert finding.code == "cap.element-order"
    assert finding.location == "/alert/info[1]/expires"
    assert "after <onset> and before <senderName>" in finding.message
    assert "follows <web>" in finding.message
    assert "Z" not in finding.message.replace("CAP", "")


def test_an_element_of_another_parent_is_named_with_its_home() -> None:
    data = mutate(("<headline>Grote brand in Rotterdam</headline>",
                   "<headline>Grote brand in Rotterdam</headline><areaDesc>x</areaDesc>"))
    (finding,) = parse_cap(data).findings
    assert finding.code == "cap.element-misplaced"
    assert "<areaDesc> is not a child of <info>; it belongs inside <area>" in finding.message


def test_a_second_headline_is_a_repeat() -> None:
    data = mutate(("<headline>Grote brand in Rotterdam</headline>",
                   "<headline>Grote brand in Rotterdam</headline><headline>Nog</headline>"))
    (finding,) = parse_cap(data).findings
    assert finding.code == "cap.element-repeated"


_VALUES = {"category": "Fire", "event": "Brand", "urgency": "Immediate",
           "severity": "Severe", "certainty": "Observed", "audience": "iedereen",
           "effective": "2026-11-25T10:00:00+01:00", "onset": "2026-11-25T10:00:00+01:00",
           "expires": "2026-11-25T14:00:00+01:00", "senderName": "VRR",
           "headline": "Brand", "description": "Veel rook", "instruction": "Ga naar binnen",
           "web": "https://www.nl-alert.nl/", "contact": "112"}
_REQUIRED = ["category", "event", "urgency", "severity", "certainty"]
_OPTIONAL = [name for name in _VALUES if name not in _REQUIRED]


@st.composite
def _misplaced_info(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    chosen = draw(st.lists(st.sampled_from(_OPTIONAL), min_size=1, unique=True))
    names = sorted(_REQUIRED + chosen, key=INFO_ORDER.index)
    moved = draw(st.sampled_from(chosen))
    later = names[names.index(moved) + 1:]
    if not later:  # the last one moves before the first instead: it is then out of place
        return moved, names[0], names
    after = draw(st.sampled_from(later))
    order = [name for name in names if name != moved]
    order.insert(order.index(after) + 1, moved)
    return moved, after, order


@settings(max_examples=60, deadline=None)
@given(_misplaced_info())
def test_any_misplaced_info_element_is_named_and_placed(
        case: tuple[str, str, list[str]]) -> None:
    """Whatever <info> element stands where it does not belong, the finding names it,
    and the place it quotes is the XSD's."""
    moved, _after, order = case
    if order == sorted(order, key=INFO_ORDER.index):
        order = [moved] + [name for name in order if name != moved]
    body = "".join(f"<{name}>{_VALUES[name]}</{name}>" for name in order)
    text = BASE.split("<info>")[0] + f"<info>{body}</info></alert>"
    findings = parse_cap(text.encode()).findings
    assert findings, text
    first = findings[0]
    position = INFO_ORDER.index(first.location.rsplit("/", 1)[-1])
    assert first.code == "cap.element-order", first
    assert first.location == f"/alert/info[1]/{moved}"
    neighbours = [INFO_ORDER[i] for i in (position - 1, position + 1) if 0 <= i < len(INFO_ORDER)]
    assert all(f"<{name}>" in first.message for name in neighbours), first.message
    assert "Z" not in first.message.replace("CAP", "")


def test_a_value_error_in_a_date_time_keeps_its_hint() -> None:
    data = mutate(("<expires>2026-11-25T14:00:00+01:00</expires>",
                   "<expires>2026-11-25T13:00:00Z</expires>"))
    (finding,) = parse_cap(data).findings
    assert finding.code == "cap.datetime-format"


def test_an_unregistered_language_subtag_is_a_warning() -> None:
    codes = _codes(mutate(("<language>nl-NL</language>", "<language>sp-US</language>")))
    assert codes == {"cap.language.unregistered": "warning"}


def test_an_ill_formed_language_tag_stays_an_error() -> None:
    codes = _codes(mutate(("<language>nl-NL</language>", "<language>en-US-US</language>")))
    assert codes.get("cap.language.invalid") == "error"


def test_empty_references_on_a_plain_alert_is_a_warning() -> None:
    codes = _codes(mutate(("<scope>Public</scope>", "<scope>Public</scope>"),
                          ("</scope>", "</scope>\n  <references/>")))
    assert codes == {"cap.references.empty": "warning"}


@pytest.mark.parametrize("msg_type", ["Update", "Cancel"])
def test_an_update_or_cancel_without_references_stays_an_error(msg_type: str) -> None:
    codes = _codes(mutate(("<msgType>Alert</msgType>", f"<msgType>{msg_type}</msgType>"),
                          ("</scope>", "</scope>\n  <references/>")))
    assert codes == {"cap.references.required": "error"}


def test_the_corpus_files_keep_their_verdicts_for_the_right_reason() -> None:
    canada = parse_cap((CORPUS / "google__canada_errors.cap").read_bytes())
    assert not canada.ok
    assert "cap.references.required" in {f.code for f in canada.findings}
    noaa = parse_cap((CORPUS / "google__noaa_errors.cap").read_bytes())
    assert not noaa.ok  # empty urgency, severity, certainty: meaning is missing


NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 16:00 +01:00, after BASE's 14:00


def test_expired_on_arrival_is_a_warning_by_default_and_an_error_when_asked() -> None:
    document = parse_cap(mutate()).document
    assert document is not None
    (warned,) = arrival_findings(document.alert, NOW)
    assert (warned.code, warned.severity.value) == ("cap.expires.past", "warning")
    assert warned.location == "/alert/info[1]/expires"
    (refused,) = arrival_findings(document.alert, NOW, reject_expired=True)
    assert refused.severity.value == "error"
    assert arrival_findings(document.alert, datetime(2026, 11, 25, 12, 0, tzinfo=UTC)) == []


def test_validate_reports_expired_on_arrival(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "old.xml"
    path.write_bytes(mutate())  # expired in 2026-11-25T14:00+01:00, before the test runs
    assert main(["validate", str(path)]) == 0
    assert "cap.expires.past" in capsys.readouterr().out
    assert main(["validate", "--expired-on-arrival", "reject", str(path)]) == 1
