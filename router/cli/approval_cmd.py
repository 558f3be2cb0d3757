"""``tocsin approve ID``, ``tocsin reject ID --reason TEXT``, ``tocsin pending``: the second
pair of eyes, over the service's HTTP API (``--url``, ``--key`` or ``TOCSIN_URL``,
``TOCSIN_API_KEY``). The key must hold ``approve`` and be another principal than the
one that submitted the alert.

``pending`` lists the alerts waiting for approval, then the Updates and Cancels held
because nothing they reference is known here (``held_unknown_reference``).

Exit status: 0 done (``pending``: listed), 1 refused (the problem is printed),
2 usage or network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("TOCSIN_URL", "http://127.0.0.1:8080"),
                        help="service base URL (default $TOCSIN_URL or http://127.0.0.1:8080)")
    parser.add_argument("--key", default=os.environ.get("TOCSIN_API_KEY"),
                        help="API key holding 'approve' (default $TOCSIN_API_KEY)")


def register(subparsers: Any) -> None:
    approve = subparsers.add_parser("approve", help="approve an alert pending approval")
    approve.add_argument("alert_id", metavar="ID")
    _common(approve)
    approve.set_defaults(handler=lambda args: _run(args, "approve", None))
    reject = subparsers.add_parser("reject", help="reject an alert pending approval")
    reject.add_argument("alert_id", metavar="ID")
    reject.add_argument("--reason", required=True, help="why (kept with the alert)")
    _common(reject)
    reject.set_defaults(handler=lambda args: _run(args, "reject", {"reason": args.reason}))
    pending = subparsers.add_parser("pending", help="list alerts waiting for approval")
    _common(pending)
    pending.set_defaults(handler=_pending)


def _run(args: argparse.Namespace, action: str, body: dict[str, str] | None) -> int:
    if not args.key:
        print(f"tocsin {action}: no API key (--key or TOCSIN_API_KEY)", file=sys.stderr)
        return 2
    path = f"/api/v1/alerts/{args.alert_id}/{action}"
    status, answer = asyncio.run(_call(args, "POST", path, body or {}))
    if status == 200 and isinstance(answer, dict):
        approval = answer.get("approval") or {}
        print(f"{answer['id']} {answer['state']} (by {approval.get('decided_by')})")
        return 0
    return _problem(action, status, answer)


def _pending(args: argparse.Namespace) -> int:
    if not args.key:
        print("tocsin pending: no API key (--key or TOCSIN_API_KEY)", file=sys.stderr)
        return 2
    status, answer = asyncio.run(_call(args, "GET", "/api/v1/alerts?state=pending_approval"
                                       "&limit=500", None))
    if status != 200 or not isinstance(answer, dict):
        return _problem("pending", status, answer)
    for item in answer["items"]:
        approval = item.get("approval") or {}
        print(f"{item['id']}  {item['key']['sender']}  {item['key']['identifier']}  "
              f"by {approval.get('submitted_by')}  until {approval.get('expires_at')}  "
              f"({approval.get('reason')})")
    status, held = asyncio.run(_call(args, "GET", "/api/v1/alerts?state=held_unknown_reference"
                                     "&limit=500", None))
    if status != 200 or not isinstance(held, dict):
        return _problem("pending", status, held)
    for item in held["items"]:
        refs = ", ".join(f"{r['sender']},{r['identifier']}" for r in item["references"])
        print(f"{item['id']}  {item['key']['sender']}  {item['key']['identifier']}  "
              f"held_unknown_reference  {item['msg_type']} of {refs} (not in this store)")
    return 0


def _problem(action: str, status: int, answer: Any) -> int:
    if status < 0:
        print(f"tocsin {action}: {answer}", file=sys.stderr)
        return 2
    if isinstance(answer, dict) and "code" in answer:
        print(f"tocsin {action}: {status} {answer['code']}: {answer.get('detail', '')}",
              file=sys.stderr)
    else:
        print(f"tocsin {action}: HTTP {status}: {json.dumps(answer)[:500]}", file=sys.stderr)
    return 1


async def _call(args: argparse.Namespace, method: str, path: str,
                body: dict[str, str] | None) -> tuple[int, Any]:
    import aiohttp  # noqa: PLC0415

    headers = {"Authorization": f"Bearer {args.key}"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session, \
                session.request(method, args.url.rstrip("/") + path, headers=headers,
                                json=body) as response:
            return response.status, await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return -1, f"{args.url}: {exc or type(exc).__name__}"
