"""``tocsin send FILE --url URL --key KEY [--profile P] [--wait]``: post an alert.

Prints the status URL. With ``--wait``, follows it and prints each change of
delivery states until every delivery has finished (or ``--timeout``). The key
may come from ``TOCSIN_API_KEY`` instead of the command line, which keeps it
out of shell history. Exit status: 0 accepted (and, with ``--wait``, every
delivery finished), 1 rejected or a delivery did not finish, 2 usage/network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

FINISHED = {"delivered", "failed", "expired", "superseded", "cancelled", "standby"}


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
            if not args.wait:
                return 0
            return await _follow(session, status_url, headers, args.timeout)
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"tocsin send: {base}: {exc or type(exc).__name__}", file=sys.stderr)
        return 2


async def _follow(session: Any, url: str, headers: dict[str, str], wait_for: float) -> int:
    deadline = time.monotonic() + wait_for
    last: dict[str, str] = {}
    while time.monotonic() < deadline:
        async with session.get(url, headers={"Authorization": headers["Authorization"]}) as r:
            status = await r.json()
        states = {d["channel"]: d["state"] for d in status["deliveries"]}
        if states != last:
            print(f"{status['state']}: " + ", ".join(f"{c}={s}" for c, s in states.items()))
            last = states
        if all(state in FINISHED for state in states.values()):
            return 0 if all(s != "failed" for s in states.values()) else 1
        await asyncio.sleep(0.5)
    print(f"tocsin send: deliveries not finished after {wait_for:.0f} s", file=sys.stderr)
    return 1


def _print_problem(status: int, answer: Any) -> None:
    if isinstance(answer, dict) and "code" in answer:
        print(f"rejected {status} {answer['code']}: {answer.get('detail', '')}", file=sys.stderr)
        for finding in answer.get("findings", []):
            print(f"  {finding['severity']:7} {finding['code']} {finding['location']}: "
                  f"{finding['message']}", file=sys.stderr)
    else:
        print(f"rejected {status}: {json.dumps(answer)[:500]}", file=sys.stderr)
