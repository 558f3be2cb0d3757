"""``tocsin mock-channels [--host H] [--port P] [--only NAME] [--data-dir D]``: run the
sandbox network elements (entry-point group ``tocsin.demo_elements``) for integration tests.

Each element listens on its own port, counting up from ``--port`` in the order
printed at start-up; ``--only`` runs one (by channel name, e.g. ``webhook``).
Every element offers ``/_mock/received``, ``/_mock/faults`` and ``/_mock/health``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router.demo import DemoElement


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("mock-channels", help="run the mock network elements",
                                   description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090,
                        help="port of the first element; the others count up from it")
    parser.add_argument("--only", action="append", default=[],
                        help="run only this element (channel name); repeatable")
    parser.add_argument("--data-dir", type=Path, default=Path("data/mock"),
                        help="where elements keep state (subscriber keys, received logs)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from router.errors import ConfigurationError  # noqa: PLC0415
    from router.registry import demo_elements  # noqa: PLC0415

    try:
        elements = demo_elements()
    except ConfigurationError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    chosen = [e for e in elements if not args.only or e.channel in args.only]
    unknown = sorted(set(args.only) - {e.channel for e in elements})
    if unknown:
        print(f"unknown element(s): {', '.join(unknown)}; known: "
              f"{', '.join(e.channel for e in elements)}")
        return 2
    args.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_serve(chosen, args.host, args.port, args.data_dir))
    return 0


async def _serve(elements: list[DemoElement], host: str, first_port: int, data_dir: Path) -> None:
    from aiohttp import web  # noqa: PLC0415

    runners = []
    try:
        for offset, element in enumerate(elements):
            runner = web.AppRunner(element.make_app(data_dir), access_log=None)
            await runner.setup()
            port = first_port + offset
            await web.TCPSite(runner, host, port).start()
            runners.append(runner)
            print(f"mock {element.element} ({element.channel}): "
                  f"http://{host}:{port}{element.path}", flush=True)
        await asyncio.Event().wait()  # until interrupted
    finally:
        for runner in runners:
            await runner.cleanup()
