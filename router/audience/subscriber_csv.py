"""The subscriber import format (CSV): ``address,language,areas``; see
``tocsin subscribers import --help`` for the rules. Stage: the audience layer.

Problems are reported by line number only: the file holds personal data, and the
messages end up in terminals and logs.

A phone number is parsed and normalised here, once, with ``phonenumbers``
(libphonenumber's metadata): it is stored as E.164 digits without ``+`` --
the one form the SMS channel sends, with TON 1 / NPI 1 -- and a number that is
not valid in its country's numbering plan is refused. A number written without
a country code is read in the configured ``subscriber_default_region``; with
none configured it is refused (Tocsin never guesses a country). The SMS channel
applies the same rule to its ``recipients`` (``channels/sms/numbers.py``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import phonenumbers

from router.audience.records import Subscriber


def normalise_msisdn(text: str, default_region: str | None = None) -> str:
    """``text`` as E.164 digits without ``+``; ValueError saying why not (never the number)."""
    written = text.strip()
    if not written.startswith("+") and default_region is None:
        raise ValueError("no country code (write +CC..., or configure "
                         "subscriber_default_region for national numbers)")
    try:
        number = phonenumbers.parse(written, default_region)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid number in its country's numbering plan")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def parse_areas(text: str) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[str, str], ...]]:
    points: list[tuple[float, float]] = []
    geocodes: list[tuple[str, str]] = []
    for item in (part.strip() for part in text.split(";")):
        if "=" in item:
            name, _, value = item.partition("=")
            if not name.strip() or not value.strip():
                raise ValueError("a geocode is NAME=VALUE")
            geocodes.append((name.strip(), value.strip()))
        elif item:
            lat, lon = (float(x) for x in item.split())
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError("a point is LAT LON within WGS 84 ranges")
            points.append((lat, lon))
    if not points and not geocodes:
        raise ValueError("no home area")
    return tuple(points), tuple(geocodes)


def read_rows(path: Path, kind: str, problems: list[str],
              default_region: str | None = None) -> Iterator[Subscriber]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"address", "areas"} - set(reader.fieldnames or ())
        if missing:
            problems.append(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            return
        for row in reader:
            line = reader.line_num
            address = (row.get("address") or "").strip()
            if kind == "msisdn":
                try:
                    address = normalise_msisdn(address, default_region)
                except ValueError as exc:
                    problems.append(f"{path}:{line}: address: {exc}")
                    continue
            if not address:
                problems.append(f"{path}:{line}: address: empty")
                continue
            try:
                points, geocodes = parse_areas(row.get("areas") or "")
            except ValueError as exc:
                problems.append(f"{path}:{line}: areas: {exc}")
                continue
            yield Subscriber(kind, address, (row.get("language") or "").strip() or None,
                             points, geocodes)
