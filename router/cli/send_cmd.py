"""``tocsin send FILE --url URL --key KEY [--profile P] [--wait]``: post an alert.

Prints the status URL. With ``--wait``, follows the alert's server-sent events:
per-channel progress bars on a terminal, one line per change of delivery states
otherwise, until the alert's outcome is settled (or ``--timeout``), then its state
and counts and the reason of every channel that did not deliver. The key
may come from ``TOCSIN_API_KEY`` instead of the command line, which keeps it
out of shell history. Exit status: 0 accepted (and, with ``--wait``, delivered on
every channel meant to carry it), 1 rejected, or with ``--wait`` any channel failed
or expired, or not settled in time, 2 usage/network, 3 duplicate: the identical
alert was accepted before, nothing new was sent (said on stderr; not followed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from router.cli.progress import follow

DUPLICATE = 3


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("send", help="post a CAP alert to a Tocsin service",
                                   description=__doc__)
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--url", default=os.environ.get("TOCSIN_URL", "http://127.0.0.1:8080"),
                        help="service base URL (default $TOCSIN_URL or http://127.0.0.1:8080)")
    parser.add_argument("--key", default=os.environ.get("TOCSIN_API_KEY"),
                        help="API key (default $TOCSIN_API_KEY)")
    parser.add_argument("--profile", help="validation profile")
    parser.add_argument("--wait", action="store_true", help="follow delivery until done")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.key:
        print("tocsin send: no API key (--key or TOCSIN_API_KEY)", file=sys.stderr)
        return 2
    try:
        body = args.file.read_bytes()
    except OSError as exc:
        print(f"tocsin send: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    return asyncio.run(_send(args, body))


async def _send(args: argparse.Namespace, body: bytes) -> int:
    import aiohttp  # noqa: PLC0415

    base = args.url.rstrip("/")
    headers = {"Authorization": f"Bearer {args.key}", "Content-Type": "application/cap+xml"}
    params = {"profile": args.profile} if args.profile else {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            async with session.post(f"{base}/api/v1/alerts", data=body, headers=headers,
                                    params=params) as response:
                answer = await response.json(content_type=None)
                if response.status not in (200, 202):
                    _print_problem(response.status, answer)
                    return 1
            status_url = base + answer["status_url"]
            print(status_url)
            for finding in answer.get("warnings", []):
                print(f"  warning {finding['code']} {finding['location']}: "
                      f"{finding['message']}", file=sys.stderr)
            if response.status == 200:
                print(f"tocsin send: duplicate: this alert (same sender, identifier, sent and "
                      f"content) was accepted before as {answer['id']}; nothing new was sent",
                      file=sys.stderr)
                return DUPLICATE
            if not args.wait:
                return 0
            return await follow(session, status_url + "/events",
                                headers["Authorization"], args.timeout)
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"tocsin send: {base}: {exc or type(exc).__name__}", file=sys.stderr)
        return 2


def _print_problem(status: int, answer: Any) -> None:
    if isinstance(answer, dict) and "code" in answer:
        print(f"rejected {status} {answer['code']}: {answer.get('detail', '')}", file=sys.stderr)
        for finding in answer.get("findings", []):
            print(f"  {finding['severity']:7} {finding['code']} {finding['location']}: "
                  f"{finding['message']}", file=sys.stderr)
    else:
        print(f"rejected {status}: {json.dumps(answer)[:500]}", file=sys.stderr)
