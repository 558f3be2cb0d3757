"""The subscriber import format (CSV): ``address,language,areas``; see
``tocsin subscribers import --help`` for the rules. Stage: the store layer.

Problems are reported by line number only: the file holds personal data, and the
messages end up in terminals and logs.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from router.store.subscribers import Subscriber

_DIGITS = re.compile(r"^\d{8,15}$")


def normalise_msisdn(text: str) -> str | None:
    digits = re.sub(r"[\s\-().]", "", text)
    digits = digits[1:] if digits.startswith("+") else digits
    digits = digits[2:] if digits.startswith("00") else digits
    return digits if _DIGITS.match(digits) else None


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


def read_rows(path: Path, kind: str, problems: list[str]) -> Iterator[Subscriber]:
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
                address = normalise_msisdn(address) or ""
            if not address:
                problems.append(f"{path}:{line}: not a phone number in international form")
                continue
            try:
                points, geocodes = parse_areas(row.get("areas") or "")
            except ValueError as exc:
                problems.append(f"{path}:{line}: areas: {exc}")
                continue
            yield Subscriber(kind, address, (row.get("language") or "").strip() or None,
                             points, geocodes)
