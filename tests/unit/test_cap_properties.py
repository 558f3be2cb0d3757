"""Property tests for the CAP encoder/decoder pair.

- Generated valid alerts survive ``parse_cap(serialize(a))`` unchanged.
- Arbitrary bytes, and arbitrary mutations of a real alert, never raise out of
  the parser: every outcome is a ``ParseOutcome``.

The strategies generate what CAP 1.2 can carry: XML-legal text (no control
characters but tab and newline, no carriage return, which XML normalises),
date-times to the second with whole-minute offsets, identifiers without the
characters CAP forbids, finite coordinates in range.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from router.cap import Alert, parse_cap, serialize
from router.cap.model import (
    Area,
    Category,
    Certainty,
    Circle,
    Info,
    MsgType,
    Reference,
    Resource,
    ResponseType,
    Scope,
    Severity,
    Status,
    Urgency,
    ValuePair,
)

_TEXT_CHARS = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"
) | st.sampled_from("\t\n")
text = st.text(_TEXT_CHARS, max_size=40)
token = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                  blacklist_characters=',<&"\ufffe\uffff\x85\xa0'),
    min_size=1, max_size=20,
).filter(lambda s: not any(c.isspace() for c in s))
list_entry = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\ufffe\uffff'),
    min_size=1, max_size=20,
).filter(lambda s: s.strip() == s and s != "")

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
cap_datetimes = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz, microsecond=0),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30)),
    offsets | st.just(UTC),
)
not_cap_datetimes = st.builds(
    lambda naive, seconds: naive.replace(tzinfo=timezone(timedelta(seconds=seconds))),
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30)),
    st.integers(-86399, 86399).filter(lambda s: s % 60 or abs(s) > 14 * 3600),
)
latitude = st.floats(min_value=-90, max_value=90, allow_nan=False)
longitude = st.floats(min_value=-180, max_value=180, allow_nan=False)
point = st.tuples(latitude, longitude)
polygon = st.lists(point, min_size=3, max_size=12).map(lambda pts: (*pts, pts[0]))
language = st.sampled_from(["nl-NL", "en-GB", "en-US", "fr", "de-DE", "fy", "pap-CW"])
url = st.sampled_from(["https://www.nl-alert.nl/", "https://example.org/a?b=c&d=e"])
value_pair = st.builds(ValuePair, value_name=token, value=text)
decimal = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def _optional(strategy: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.none() | strategy


resource = st.builds(
    Resource,
    resource_desc=text,
    mime_type=st.sampled_from(["image/png", "text/plain", "audio/mpeg"]),
    size=_optional(st.integers(min_value=0, max_value=10**9)),
    uri=_optional(url),
    deref_uri=_optional(st.sampled_from(["aGVsbG8=", "AAAA"])),
    digest=_optional(st.just("a" * 40)),
)
area = st.builds(
    Area,
    area_desc=text,
    polygons=st.lists(polygon, max_size=2).map(tuple),
    circles=st.lists(
        st.builds(Circle, center=point, radius_km=st.floats(0, 1000)), max_size=2
    ).map(tuple),
    geocodes=st.lists(value_pair, max_size=2).map(tuple),
    altitude=_optional(decimal),
    ceiling=st.none(),
)
info = st.builds(
    Info,
    language=_optional(language),
    categories=st.lists(st.sampled_from(Category), min_size=1, max_size=3).map(tuple),
    event=text,
    response_types=st.lists(st.sampled_from(ResponseType), max_size=2).map(tuple),
    urgency=st.sampled_from(Urgency),
    severity=st.sampled_from(Severity),
    certainty=st.sampled_from(Certainty),
    audience=_optional(text),
    event_codes=st.lists(value_pair, max_size=2).map(tuple),
    effective=_optional(cap_datetimes),
    onset=_optional(cap_datetimes),
    expires=_optional(cap_datetimes),
    sender_name=_optional(text),
    headline=_optional(text),
    description=_optional(text),
    instruction=_optional(text),
    web=_optional(url),
    contact=_optional(text),
    parameters=st.lists(value_pair, max_size=2).map(tuple),
    resources=st.lists(resource, max_size=2).map(tuple),
    areas=st.lists(area, max_size=2).map(tuple),
)
alerts = st.builds(
    Alert,
    identifier=token,
    sender=token,
    sent=cap_datetimes,
    status=st.sampled_from(Status),
    msg_type=st.sampled_from(MsgType),
    source=_optional(text),
    scope=st.sampled_from(Scope),
    restriction=_optional(text),
    addresses=_optional(st.lists(list_entry, min_size=1, max_size=3).map(tuple)),
    codes=st.lists(text, max_size=2).map(tuple),
    note=_optional(text),
    references=_optional(
        st.lists(st.builds(Reference, sender=token, identifier=token, sent=cap_datetimes),
                 min_size=1, max_size=3).map(tuple)
    ),
    incidents=_optional(st.lists(list_entry, min_size=1, max_size=3).map(tuple)),
    infos=st.lists(info, max_size=3).map(tuple),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alerts)
def test_serialize_then_parse_is_identity(alert: Alert) -> None:
    outcome = parse_cap(serialize(alert))
    assert outcome.document is not None, outcome.findings
    assert outcome.document.alert == alert


@settings(max_examples=100, deadline=None)
@given(not_cap_datetimes)
def test_model_refuses_datetimes_cap_cannot_write(value: datetime) -> None:
    with pytest.raises(ValidationError, match="CAP date-times"):
        Reference(sender="a", identifier="b", sent=value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    outcome = parse_cap(data)
    assert outcome.findings or outcome.document is not None


_SEED = serialize(Alert(
    identifier="NL-1", sender="a@example.nl", sent=datetime(2026, 11, 25, 10, tzinfo=UTC),
    status=Status.ACTUAL, msg_type=MsgType.ALERT, scope=Scope.PUBLIC,
    infos=(Info(categories=(Category.FIRE,), event="Brand", urgency=Urgency.IMMEDIATE,
                severity=Severity.SEVERE, certainty=Certainty.OBSERVED,
                areas=(Area(area_desc="R", polygons=(((1.0, 1.0), (2.0, 2.0), (2.0, 1.0),
                                                      (1.0, 1.0)),)),)),),
))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(_SEED) - 1), st.binary(min_size=0, max_size=8), st.integers(0, 8))
def test_mutated_alert_never_raises(position: int, insert: bytes, cut: int) -> None:
    data = _SEED[:position] + insert + _SEED[position + cut:]
    outcome = parse_cap(data)
    assert outcome.findings or outcome.document is not None
