"""``tocsin mock-channels [--host H] [--port P] [--secret S]``: run the sandbox network elements.

Today: the webhook receiver at ``/hook`` (and its ``/_mock/`` control API).
Later channel issues add their mock network elements here.
"""

from __future__ import annotations

import argparse
import os
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("mock-channels", help="run the mock network elements",
                                   description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--secret", default=os.environ.get("TOCSIN_MOCK_WEBHOOK_SECRET",
                                                           "mock-webhook-secret"),
                        help="the HMAC secret webhook requests must be signed with")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from aiohttp import web  # noqa: PLC0415

    from channels.mock.webhook_receiver import create_receiver  # noqa: PLC0415

    print(f"mock webhook receiver: http://{args.host}:{args.port}/hook", flush=True)
    web.run_app(create_receiver(args.secret), host=args.host, port=args.port, print=None,
                access_log=None)
    return 0
