"""``tocsin retry ID CHANNEL --url URL --key KEY``: send one delivery of an alert again.

A failed or expired delivery is re-planned while the alert is in force
(``POST /api/v1/alerts/{id}/deliveries/{channel}/retry``); the service records and
audits which authority and key asked. The key may come from ``TOCSIN_API_KEY``.
Prints the status URL. Exit status: 0 re-planned, 1 refused (the problem code and
why: ``delivery.not-retryable``, ``delivery.alert-not-in-force``,
``delivery.alert-expired``, ``delivery.not-found``, ...), 2 usage/network.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any
from urllib.parse import quote

from router.cli.send_cmd import _print_problem


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("retry", help="send a failed or expired delivery again",
                                   description=__doc__)
    parser.add_argument("alert_id", metavar="ID")
    parser.add_argument("channel", metavar="CHANNEL")
    parser.add_argument("--url", default=os.environ.get("TOCSIN_URL", "http://127.0.0.1:8080"),
                        help="service base URL (default $TOCSIN_URL or http://127.0.0.1:8080)")
    parser.add_argument("--key", default=os.environ.get("TOCSIN_API_KEY"),
                        help="API key (default $TOCSIN_API_KEY)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.key:
        print("tocsin retry: no API key (--key or TOCSIN_API_KEY)", file=sys.stderr)
        return 2
    return asyncio.run(_retry(args))


async def _retry(args: argparse.Namespace) -> int:
    import aiohttp  # noqa: PLC0415

    base = args.url.rstrip("/")
    url = (f"{base}/api/v1/alerts/{quote(args.alert_id, safe='')}/deliveries/"
           f"{quote(args.channel, safe='')}/retry")
    try:
        async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                    session.post(url, headers={"Authorization": f"Bearer {args.key}"}
                                 ) as response):
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"tocsin retry: {base}: {exc or type(exc).__name__}", file=sys.stderr)
        return 2
    if response.status != 202:
        _print_problem(response.status, answer)
        return 1
    print(base + answer["status_url"])
    print(f"{answer['channel']}: {answer['state']} (asked by "
          f"{answer['requested_by']['authority']}, key {answer['requested_by']['key']})",
          file=sys.stderr)
    return 0
