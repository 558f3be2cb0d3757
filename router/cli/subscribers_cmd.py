"""``tocsin subscribers import FILE.csv [--kind msisdn] [--config FILE] [--data-dir D]``.

Loads opt-in subscribers into the store, streaming the file in batches of 1,000
(one transaction each). Columns, with a header line:

    address,language,areas
    +31 6 1234 5678,nl,51.8801 4.4602;CBS=GM0599

``address``: for ``msisdn`` a phone number in international form (spaces, dashes and
a leading ``+`` or ``00`` are dropped; 8 to 15 digits remain). ``language``: optional
(``nl``, ``en-GB``). ``areas``: one or more home areas separated by ``;``, each a point
``LAT LON`` (WGS 84) or a CAP geocode ``NAME=VALUE``. A number already registered is
replaced (new language and areas). Rows that do not parse are reported by line number
only -- never with the number itself -- and skipped; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router.store import SqliteStore, Subscriber

BATCH = 1000
_DIGITS = re.compile(r"^\d{8,15}$")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("subscribers", help="manage the subscriber registry")
    actions = parser.add_subparsers(dest="subscribers_command", required=True, metavar="ACTION")
    load = actions.add_parser("import", help="import subscribers from a CSV file",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    load.add_argument("file", type=Path)
    load.add_argument("--kind", default="msisdn", help="address kind (default msisdn)")
    load.add_argument("--config", type=Path, help="settings file (YAML)")
    load.add_argument("--data-dir", type=Path, help="where the SQLite store lives")
    load.set_defaults(handler=run_import)


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
    from router.store import Subscriber  # noqa: PLC0415  (keep other commands light)

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


async def _import(store: SqliteStore, rows: Iterator[Subscriber]) -> int:
    await store.open()
    try:
        total, batch = 0, []
        for subscriber in rows:
            batch.append(subscriber)
            if len(batch) >= BATCH:
                total += await store.import_subscribers(batch)
                batch = []
        if batch:
            total += await store.import_subscribers(batch)
        return total
    finally:
        await store.close()


def run_import(args: argparse.Namespace) -> int:
    from router.settings import load_settings  # noqa: PLC0415
    from router.store import SqliteStore  # noqa: PLC0415

    settings = load_settings(args.config, data_dir=args.data_dir)
    if not args.file.is_file():
        print(f"tocsin subscribers import: {args.file}: no such file", file=sys.stderr)
        return 2
    problems: list[str] = []
    store = SqliteStore(settings.database_path)
    count = asyncio.run(_import(store, read_rows(args.file, args.kind, problems)))
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{count} subscriber(s) imported into {settings.database_path}"
          + (f"; {len(problems)} row(s) skipped" if problems else ""))
    return 1 if problems else 0
