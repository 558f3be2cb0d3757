"""The subscriber registry and the store-backed Audience: geographic selection, durable
claims and outcomes (no one twice, no one lost), Update and Cancel audiences, counts in
the alert status, and the CSV import."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.audience import Subscriber
from router.audience.subscriber_csv import normalise_msisdn, parse_areas
from router.cap import Alert, parse_cap
from router.channel import Audience, Recipient, RecipientOutcome, RecipientResult
from router.cli import main
from router.storage import Stores
from router.store import AlertStore, ClaimedDelivery, NewAlert, PlannedDelivery
from router.store.records import PriorDelivery
from tests.stores import opened_stores

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
GEOCODE = (b"<polygon>51.8950,4.4300 51.8950,4.4900 51.8700,4.4900 51.8700,4.4300 "
           b"51.8950,4.4300</polygon>")
PEOPLE = [
    Subscriber("msisdn", "31600000001", "en", points=((51.88, 4.46),)),  # inside both areas
    Subscriber("msisdn", "31600000002", None, points=((51.90, 4.50),)),  # inside the update's
    Subscriber("msisdn", "31600000003", "nl", points=((52.37, 4.90),)),  # Amsterdam: outside
    Subscriber("msisdn", "31600000004", None, geocodes=(("CBS", "GM0599"),)),
    Subscriber("wallet", "wallet-handle-1", None, points=((51.88, 4.46),)),  # other kind
    Subscriber("msisdn", "31600000006", None, points=((10.0, 10.0), (51.875, 4.44))),
]


def parsed(name: str, geocode: bool = False) -> tuple[Alert, bytes]:
    raw = (EXAMPLES / name).read_bytes()
    if geocode:
        raw = raw.replace(GEOCODE, GEOCODE + b"<geocode><valueName>CBS</valueName>"
                          b"<value>GM0599</value></geocode>", 1)
    document = parse_cap(raw).document
    assert document is not None
    return document.alert, raw


async def accept(store: AlertStore, name: str, alert_id: str, geocode: bool = False) -> Alert:
    alert, raw = parsed(name, geocode)
    await store.accept(NewAlert(id=alert_id, alert=alert, raw=raw, content_hash=alert_id,
                                profile="cap12", authority="t", received_at=datetime.now(UTC),
                                findings=[], plan=[PlannedDelivery("sms", "r")]))
    return alert


def claimed(alert_id: str, prior: str | None = None) -> ClaimedDelivery:
    return ClaimedDelivery(alert_id, "sms", f"{alert_id}/sms", 0, None, b"",
                           PriorDelivery(prior, f"{prior}/sms", {}) if prior else None)


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    async with opened_stores(tmp_path) as opened:
        await opened.audience.import_subscribers(PEOPLE)
        yield opened


async def drain(audience: Audience, size: int = 2) -> list[Recipient]:
    return [person async for batch in audience.batches(size) for person in batch]


async def send_all(audience: Audience) -> list[Recipient]:
    people = await drain(audience)
    await audience.record([RecipientResult(p.key, RecipientOutcome.SENT, "m") for p in people])
    return people


async def test_selects_subscribers_whose_home_area_the_alert_reaches(stores: Stores) -> None:
    alert = await accept(stores.alerts, "nl-alert-fire.xml", "A", geocode=True)
    people = await drain(stores.audience.audience("msisdn", claimed("A"), alert))
    assert sorted(p.address for p in people) == ["31600000001", "31600000004", "31600000006"]
    assert {p.address: p.language for p in people}["31600000001"] == "en"
    assert "3160" not in repr(people[0])  # the number stays out of reprs and tracebacks


async def test_a_second_run_offers_nobody_already_sent(stores: Stores) -> None:
    alert = await accept(stores.alerts, "nl-alert-fire.xml", "A")
    first = await send_all(stores.audience.audience("msisdn", claimed("A"), alert))
    assert len(first) == 2
    assert await drain(stores.audience.audience("msisdn", claimed("A"), alert)) == []


async def test_claims_left_by_a_crash_are_offered_again(stores: Stores) -> None:
    alert = await accept(stores.alerts, "nl-alert-fire.xml", "A")
    crashed = stores.audience.audience("msisdn", claimed("A"), alert)
    taken = await drain(crashed)  # claimed, never recorded: the process died here
    assert len(taken) == 2
    again = await drain(stores.audience.audience("msisdn", claimed("A"), alert))
    assert sorted(p.key for p in again) == sorted(p.key for p in taken)


async def test_unsent_gives_a_recipient_back(stores: Stores) -> None:
    alert = await accept(stores.alerts, "nl-alert-fire.xml", "A")
    audience = stores.audience.audience("msisdn", claimed("A"), alert)
    one, two = await drain(audience)
    await audience.record([RecipientResult(one.key, RecipientOutcome.SENT, "m1"),
                           RecipientResult(two.key, RecipientOutcome.UNSENT)])
    assert [p.key for p in await drain(stores.audience.audience("msisdn", claimed("A"), alert))] == [two.key]


async def test_update_reaches_earlier_recipients_and_its_own_area(stores: Stores) -> None:
    alert = await accept(stores.alerts, "nl-alert-fire.xml", "NL-VRR-2026-0042")
    await send_all(stores.audience.audience("msisdn", claimed("NL-VRR-2026-0042"), alert))
    update = await accept(stores.alerts, "nl-alert-fire-update.xml", "U")
    people = await drain(stores.audience.audience("msisdn", claimed("U", "NL-VRR-2026-0042"), update))
    assert sorted(p.address for p in people) == ["31600000001", "31600000002", "31600000006"]


async def test_cancel_reaches_only_those_the_earlier_alert_reached(stores: Stores) -> None:
    update = await accept(stores.alerts, "nl-alert-fire-update.xml", "U")
    sent = await send_all(stores.audience.audience("msisdn", claimed("U"), update))
    cancel = await accept(stores.alerts, "nl-alert-fire-cancel.xml", "C")
    people = await drain(stores.audience.audience("msisdn", claimed("C", "U"), cancel))
    assert sorted(p.key for p in people) == sorted(p.key for p in sent)


async def test_fan_out_stops_when_the_alert_is_cancelled(stores: Stores) -> None:
    await accept(stores.alerts, "nl-alert-fire.xml", "NL-VRR-2026-0042")  # the Update's original
    alert = await accept(stores.alerts, "nl-alert-fire-update.xml", "NL-VRR-2026-0043")
    audience = stores.audience.audience("msisdn", claimed("NL-VRR-2026-0043"), alert)
    batches = audience.batches(1)
    first = await anext(batches)
    await accept(stores.alerts, "nl-alert-fire-cancel.xml", "C")  # cancels 0043
    assert [p async for batch in batches for p in batch] == []
    assert len(first) == 1
    assert audience.interrupted == "cancelled"


async def test_outcomes_and_receipts_show_in_counts_and_status(stores: Stores) -> None:
    alert = await accept(stores.alerts, "nl-alert-fire.xml", "A")
    audience = stores.audience.audience("msisdn", claimed("A"), alert)
    one, two = await drain(audience)
    await audience.settle([RecipientResult(one.key, RecipientOutcome.DELIVERED)])  # early
    await audience.record([RecipientResult(one.key, RecipientOutcome.SENT, "m1"),
                           RecipientResult(two.key, RecipientOutcome.SENT, "m2")])
    await audience.settle([RecipientResult(two.key, RecipientOutcome.EXPIRED)])
    counts = await audience.counts()
    assert counts == {"delivered": 1, "expired": 1, "accepted": 2}
    assert await stores.audience.recipient_counts(["A/sms", "none/sms"]) == {"A/sms": counts}


async def test_reimport_replaces_areas_and_keeps_one_row(stores: Stores) -> None:
    moved = Subscriber("msisdn", "31600000003", "nl", points=((51.88, 4.46),))
    await stores.audience.import_subscribers([moved])
    assert await stores.audience.subscriber_count("msisdn") == 5
    alert = await accept(stores.alerts, "nl-alert-fire.xml", "A")
    people = await drain(stores.audience.audience("msisdn", claimed("A"), alert))
    assert "31600000003" in {p.address for p in people}


async def test_a_large_import_with_repeats_keeps_the_last_row_of_each(stores: Stores) -> None:
    """Written in chunks: a subscriber repeated within a chunk and across chunks ends
    with its last row, as written one by one; every other one is there once."""
    many = [Subscriber("msisdn", f"316100{n:05d}", None, points=((52.37, 4.90),))
            for n in range(1_203)]
    again = Subscriber("msisdn", "31610000007", "en", points=((51.88, 4.46),))
    last = Subscriber("msisdn", "31610000007", "nl", points=((51.875, 4.44),))
    assert await stores.audience.import_subscribers(
        [*many[:10], again, *many[10:], last]) == 1_205
    assert await stores.audience.subscriber_count("msisdn") == 5 + 1_203
    alert = await accept(stores.alerts, "nl-alert-fire.xml", "A")
    people = await drain(stores.audience.audience("msisdn", claimed("A"), alert))
    reached = {p.address: p.language for p in people}
    assert reached.get("31610000007") == "nl"  # in its last row's language
    assert not any(a.startswith("316100") and a != "31610000007" for a in reached)


def test_csv_parsing_rules() -> None:
    assert normalise_msisdn("+31 6 1234-5678") == "31612345678"
    assert normalise_msisdn("0031612345678", "NL") == "31612345678"
    assert normalise_msisdn("06 1234 5678", "NL") == "31612345678"
    for written, region, why in (("12", "NL", "not a valid number"),
                                 ("+31690000001", None, "not a valid number"),
                                 ("0031612345678", None, "no country code"),
                                 ("31612345678", None, "no country code")):
        with pytest.raises(ValueError, match=why):
            normalise_msisdn(written, region)
    assert parse_areas("51.9 4.4; CBS=GM0599") == (((51.9, 4.4),), (("CBS", "GM0599"),))
    with pytest.raises(ValueError, match="home area"):
        parse_areas(" ; ")
    with pytest.raises(ValueError, match="WGS 84"):
        parse_areas("91 4")


def test_import_command_reports_bad_rows_without_numbers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "subs.csv"
    csv_file.write_text("address,language,areas\n+31 6 1111 2222,nl,51.88 4.46\n"
                        "+31 6 12,en,51.88 4.46\n+31633334444,,nowhere\n", encoding="utf-8")
    status = main(["subscribers", "import", str(csv_file), "--data-dir", str(tmp_path / "d")])
    out, err = capsys.readouterr()
    assert status == 1
    assert "1 subscriber(s) imported" in out
    assert ":3: address: not a valid number" in err
    assert ":4: areas:" in err
    assert "3163333" not in err
    assert "3161111" not in out + err


def test_import_normalises_numbers_once_and_refuses_invalid_ones_by_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "subs.csv"
    csv_file.write_text("address,language,areas\n"
                        "+31 6 1000 0001,nl,51.88 4.46\n"  # 2: international
                        "06 1000 0002,nl,51.88 4.46\n"  # 3: national, read in NL
                        "0031 6 1000 0003,,51.88 4.46\n"  # 4: NL's international prefix
                        "+31690000001,,51.88 4.46\n"  # 5: unallocated range: refused
                        "+31 (0)6-1000-0001,en,51.88 4.46\n",  # 6: line 2 again
                        encoding="utf-8")
    data = tmp_path / "d"
    status = main(["subscribers", "import", str(csv_file), "--data-dir", str(data),
                   "--region", "nl"])
    _out, err = capsys.readouterr()
    assert status == 1
    assert [e for e in err.splitlines() if str(csv_file) in e] == [f"{csv_file}:5: address: not a valid number in its country's "
                                "numbering plan"]
    assert _addresses(data / "tocsin.sqlite3") == {"31610000001": "en", "31610000002": "nl", "31610000003": None}


def test_without_a_region_national_numbers_are_refused_not_guessed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "subs.csv"
    csv_file.write_text("address,language,areas\n06 1000 0002,nl,51.88 4.46\n"
                        "31610000003,nl,51.88 4.46\n", encoding="utf-8")
    status = main(["subscribers", "import", str(csv_file), "--data-dir", str(tmp_path / "d")])
    _out, err = capsys.readouterr()
    assert status == 1
    assert [line.split(": ", 1)[1] for line in err.splitlines() if str(csv_file) in line] == [
        "address: no country code (write +CC..., or configure subscriber_default_region "
        "for national numbers)"] * 2
    assert "1000" not in err


def _addresses(database: Path) -> dict[str, str | None]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return dict(conn.execute("SELECT address, language FROM subscribers").fetchall())
