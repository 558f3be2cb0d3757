"""The audit chain on its own (pure): the canonical form byte for byte, and for any
chain, that every single change, removal, reordering or cut tail is named."""

from __future__ import annotations

import dataclasses
import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from router.audit.chain import (
    GENESIS_HASH,
    MAX_ITEMS,
    MAX_TEXT,
    AuditEntry,
    AuditEvent,
    AuditKind,
    BreakKind,
    Head,
    Principal,
    Verdict,
    bounded,
    chain,
    verify_chain,
)

WHO = Principal(via="api", authority="vr-rr", key="sha256:0123456789abcdef")


def test_canonical_form_is_the_documented_bytes() -> None:
    entry = chain(AuditEvent(AuditKind.ALERT_CANCELLED, WHO, "01ALERT", {"cancelled_by": "Ä"}),
                  seq=7, at="2026-12-03T06:50:21.123+00:00", prev_hash="ab" * 32)
    expected = (
        '{"at":"2026-12-03T06:50:21.123+00:00","detail":{"cancelled_by":"Ä"},'
        '"kind":"alert.cancelled","prev":"' + "ab" * 32 + '","principal":{"actor":null,'
        '"authority":"vr-rr","key":"sha256:0123456789abcdef","via":"api"},"seq":7,'
        '"subject":"01ALERT","v":1}').encode()
    assert entry.canonical() == expected
    assert entry.hash == hashlib.sha256(expected).hexdigest()


details = st.dictionaries(st.text(st.characters(max_codepoint=127), max_size=8),
                          st.one_of(st.text(max_size=20), st.integers(), st.booleans(),
                                    st.none()), max_size=4)
events = st.builds(AuditEvent, kind=st.sampled_from(AuditKind), principal=st.just(WHO),
                   subject=st.one_of(st.none(), st.text(max_size=10)), detail=details)


def _chain(items: list[AuditEvent]) -> list[AuditEntry]:
    entries, previous = [], GENESIS_HASH
    for seq, event in enumerate(items, start=1):
        entry = chain(event, seq, f"2026-12-03T00:00:{seq % 60:02}.000+00:00", previous)
        entries.append(entry)
        previous = entry.hash
    return entries


def _verify(entries: list[AuditEntry], head: Head | None) -> Verdict:
    return verify_chain(lambda: sorted(entries, key=lambda e: e.seq), head)


def _head(entries: list[AuditEntry]) -> Head:
    return Head(entries[-1].seq, entries[-1].hash)


@given(st.lists(events, min_size=1, max_size=12))
def test_an_untouched_chain_is_intact(items: list[AuditEvent]) -> None:
    entries = _chain(items)
    verdict = _verify(entries, _head(entries))
    assert verdict.intact
    assert verdict.checked == len(entries)


@given(st.lists(events, min_size=2, max_size=12), st.data())
def test_any_changed_field_is_named(items: list[AuditEvent], data: st.DataObject) -> None:
    entries = _chain(items)
    position = data.draw(st.integers(0, len(entries) - 1))
    victim = entries[position]
    changes = {"at": victim.at + "x", "kind": victim.kind + "x",
               "subject": (victim.subject or "") + "x",
               "detail": {**victim.detail, "added": 1},
               "principal": dataclasses.replace(victim.principal, authority="other")}
    name = data.draw(st.sampled_from(sorted(changes)))
    entries[position] = dataclasses.replace(victim, **{name: changes[name]})
    broken = _verify(entries, _head(entries)).broken
    assert broken is not None
    assert (broken.seq, broken.kind) == (victim.seq, BreakKind.CHANGED)


@given(st.lists(events, min_size=3, max_size=12), st.data())
def test_any_removed_entry_is_named(items: list[AuditEvent], data: st.DataObject) -> None:
    entries = _chain(items)
    head = _head(entries)
    position = data.draw(st.integers(0, len(entries) - 1))
    removed = entries.pop(position)
    broken = _verify(entries, head).broken
    assert broken is not None
    assert (broken.seq, broken.kind) == (removed.seq, BreakKind.REMOVED)


@given(st.lists(events, min_size=3, max_size=12), st.data())
def test_any_swap_is_named_as_a_reordering(items: list[AuditEvent], data: st.DataObject
                                           ) -> None:
    entries = _chain(items)
    a, b = sorted(data.draw(st.lists(st.integers(0, len(entries) - 1), min_size=2,
                                     max_size=2, unique=True)))
    first, second = entries[a], entries[b]
    entries[a] = dataclasses.replace(second, seq=first.seq)
    entries[b] = dataclasses.replace(first, seq=second.seq)
    broken = _verify(entries, _head(_chain(items))).broken
    assert broken is not None
    assert (broken.seq, broken.kind) == (first.seq, BreakKind.REORDERED)


@given(st.lists(events, min_size=2, max_size=12), st.data())
def test_a_cut_tail_is_seen_against_the_head(items: list[AuditEvent], data: st.DataObject
                                             ) -> None:
    entries = _chain(items)
    head = _head(entries)
    keep = data.draw(st.integers(0, len(entries) - 1))
    broken = _verify(entries[:keep], head).broken
    assert broken is not None
    assert (broken.seq, broken.kind) == (keep + 1, BreakKind.REMOVED)


def test_without_a_head_a_non_empty_trail_is_broken_and_an_empty_one_is_not() -> None:
    entries = _chain([AuditEvent(AuditKind.CONFIG_LOADED, WHO)])
    broken = _verify(entries, None).broken
    assert broken is not None
    assert broken.kind is BreakKind.HEAD_MISSING
    assert _verify([], None).intact
    assert _verify([], Head(0, GENESIS_HASH)).intact


def test_an_anchor_catches_a_consistent_rewrite() -> None:
    items = [AuditEvent(AuditKind.KEY_CREATED, WHO, str(n)) for n in range(4)]
    original = _chain(items)
    anchor = Head(3, original[2].hash)
    forged = _chain([*items[:1], AuditEvent(AuditKind.KEY_CREATED, WHO, "forged"), *items[2:]])
    assert _verify(forged, _head(forged)).intact  # the database alone cannot tell
    broken = verify_chain(lambda: forged, _head(forged), anchor).broken
    assert broken is not None
    assert (broken.seq, broken.kind) == (3, BreakKind.ANCHOR)
    cut = verify_chain(lambda: original[:2], Head(2, original[1].hash), anchor).broken
    assert cut is not None
    assert (cut.seq, cut.kind) == (3, BreakKind.REMOVED)


@settings(max_examples=50)
@given(st.recursive(st.one_of(st.text(max_size=MAX_TEXT + 20), st.integers(),
                              st.floats(allow_nan=False), st.booleans(), st.none()),
                    lambda inner: st.one_of(st.lists(inner, max_size=MAX_ITEMS + 5),
                                            st.dictionaries(st.text(max_size=5), inner,
                                                            max_size=MAX_ITEMS + 5)),
                    max_leaves=120))
def test_bounded_values_have_no_floats_long_texts_or_long_lists(value: object) -> None:
    def check(item: object) -> None:
        assert not isinstance(item, float)
        if isinstance(item, str):
            assert len(item) <= MAX_TEXT + len("…[cut]")
        elif isinstance(item, list):
            assert len(item) <= MAX_ITEMS + 1
            for element in item:
                check(element)
        elif isinstance(item, dict):
            assert len(item) <= MAX_ITEMS + 1
            assert all(key.isascii() for key in item)
            for element in item.values():
                check(element)

    check(bounded(value))


def test_alerts_are_checked_against_the_bytes_the_trail_recorded() -> None:
    from router.audit.chain import check_alerts  # noqa: PLC0415

    submitted = AuditEvent(AuditKind.ALERT_SUBMITTED, WHO, "A1", {"raw_sha256": "aa"})
    entries = _chain([AuditEvent(AuditKind.CONFIG_LOADED, WHO), submitted])
    assert check_alerts(lambda: entries, {"A1": "aa"}.get) is None
    changed = check_alerts(lambda: entries, {"A1": "bb"}.get)
    assert changed is not None
    assert (changed.seq, changed.kind) == (2, BreakKind.ALERT_CHANGED)
    gone = check_alerts(lambda: entries, {}.get)
    assert gone is not None
    assert "no longer stored" in gone.message
