"""``tocsin subscribers import FILE.csv [--kind msisdn] [--config FILE] [--data-dir D]``.

Loads opt-in subscribers into the store, streaming the file in batches of 1,000
(one transaction each). Columns, with a header line:

    address,language,areas
    +31 6 1234 5678,nl,51.8801 4.4602;CBS=GM0599

``address``: for ``msisdn`` a phone number, validated with libphonenumber and stored
as E.164 digits (``31612345678``): written with its country code (``+31 6 1234 5678``),
or national (``06 1234 5678``, ``0031 6 ...``) when ``--region`` or the setting
``subscriber_default_region`` names the country to read it in. ``language``: optional
(``nl``, ``en-GB``). ``areas``: one or more home areas separated by ``;``, each a point
``LAT LON`` (WGS 84) or a CAP geocode ``NAME=VALUE``. A number already registered is
replaced (new language and areas). Rows that do not parse are reported by line number
only -- never with the number itself -- and skipped; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router.audience import Subscriber
    from router.storage import Stores

BATCH = 1000


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
    load.add_argument("--region", help="ISO 3166-1 alpha-2 region for numbers without a "
                      "country code (default: the setting subscriber_default_region)")
    load.set_defaults(handler=run_import)


async def _import(stores: Stores, rows: Iterator[Subscriber]) -> int:
    await stores.open()
    store = stores.audience
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
        await stores.close()


def run_import(args: argparse.Namespace) -> int:
    from pydantic import ValidationError  # noqa: PLC0415

    from router.audience.subscriber_csv import read_rows  # noqa: PLC0415
    from router.errors import ConfigurationError  # noqa: PLC0415
    from router.settings import load_settings  # noqa: PLC0415
    from router.storage import open_stores  # noqa: PLC0415

    try:
        settings = load_settings(args.config, data_dir=args.data_dir,
                                 subscriber_default_region=args.region)
    except (ValidationError, FileNotFoundError) as exc:
        print(f"tocsin subscribers import: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"tocsin subscribers import: {args.file}: no such file", file=sys.stderr)
        return 2
    problems: list[str] = []
    try:
        stores = open_stores(settings.store, settings.data_dir)
    except ConfigurationError as exc:
        print(f"tocsin subscribers import: {exc}", file=sys.stderr)
        return 2
    count = asyncio.run(_import(stores, read_rows(args.file, args.kind, problems,
                                                       settings.subscriber_default_region)))
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{count} subscriber(s) imported into {stores.url}"
          + (f"; {len(problems)} row(s) skipped" if problems else ""))
    return 1 if problems else 0
