"""``tocsin serve [--host H] [--port P] [--data-dir D] [--config FILE] [--trust-store P] [--demo]``.

Runs the service until SIGTERM or SIGINT, then drains: stops accepting
connections, lets in-flight requests finish (up to ``shutdown_timeout``),
commits every write already queued, and exits 0. Every flag can also be set
by environment (``TOCSIN_HOST``, ``TOCSIN_PORT``, ``TOCSIN_DATA_DIR``,
``TOCSIN_DEMO``, ``TOCSIN_CONFIG``). The data directory is locked first
(``router.cli.data_lock``): one server per data directory. Exit status 2: invalid
configuration, the data directory is held by another process (its PID is named), or
the address cannot be listened on (in use: the message names ``--port`` and
``TOCSIN_PORT``).
"""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the service", description=__doc__)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8080; 0 = any free port)")
    parser.add_argument("--data-dir", type=Path,
                        help="where the SQLite store lives (default ./data)")
    parser.add_argument("--store", metavar="URL",
                        help="store URL (setting store; default: SQLite in the data "
                             "directory; sqlite:///path for another file)")
    parser.add_argument("--config", type=Path, help="settings file (YAML)")
    parser.add_argument("--trust-store", type=Path, metavar="PATH",
                        help="XML-DSig trust store: a PEM file or directory of PEM files "
                             "(setting trust_store)")
    parser.add_argument("--feed", action="append", default=[], metavar="URL",
                        help="poll this CAP feed (Atom, RSS or one CAP document) as well as "
                             "the settings' feeds:, acting as the only (demo: the demo) "
                             "authority; repeatable")
    parser.add_argument("--demo", action="store_true", default=None,
                        help="demo mode: a development API key allowed any sender")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError  # noqa: PLC0415  (keep `tocsin validate` light)

    from router.cli.data_lock import DataDirLockedError, lock_data_dir  # noqa: PLC0415
    from router.settings import load_settings  # noqa: PLC0415

    try:
        settings = load_settings(args.config, host=args.host, port=args.port,
                                 data_dir=args.data_dir, demo=args.demo, store=args.store,
                                 trust_store=args.trust_store)
    except (ValidationError, FileNotFoundError) as exc:
        print(f"tocsin serve: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    try:
        settings = with_feed_flags(settings, args.feed)
    except ValidationError as exc:
        print(f"tocsin serve: invalid --feed:\n{exc}", file=sys.stderr)
        return 2
    try:
        lock = lock_data_dir(settings.data_dir)  # before anything in it is opened or made
    except DataDirLockedError as exc:
        print(f"tocsin serve: {exc}", file=sys.stderr)
        return 2
    with lock:
        return _serve(settings)


def with_feed_flags(settings: Settings, urls: list[str]) -> Settings:
    """The settings with one ``feeds:`` entry more per ``--feed URL``."""
    from router.settings import Feed  # noqa: PLC0415

    if not urls:
        return settings
    return settings.model_copy(update={"feeds": [*settings.feeds, *(Feed(url=u) for u in urls)]})


def _serve(settings: Settings) -> int:
    from aiohttp import web  # noqa: PLC0415

    from router.app import DEMO_KEY, create_app  # noqa: PLC0415
    from router.errors import ConfigurationError, StoreUnavailableError  # noqa: PLC0415
    from router.observability.logging import configure_logging  # noqa: PLC0415

    configure_logging(settings.log_level, settings.log_format)
    busy = _unlistenable(settings.host, settings.port)
    if busy is not None:  # said before anything starts (demo mode's mock elements)
        print(address_problem(settings.host, settings.port, busy), file=sys.stderr)
        return 2
    try:
        app = create_app(settings)
    except ConfigurationError as exc:
        print("tocsin serve: invalid configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if DEMO_KEY in app:
        print(f"Demo mode. API key (any sender): {app[DEMO_KEY]}\n"
              f"  curl -H 'Authorization: Bearer {app[DEMO_KEY]}' "
              f"-H 'Content-Type: application/cap+xml' --data-binary @config/examples/"
              f"nl-alert-fire.xml http://{settings.host}:{settings.port}/api/v1/alerts",
              flush=True)
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=None, access_log=None,
                    shutdown_timeout=settings.shutdown_timeout, handle_signals=True)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        print(address_problem(settings.host, settings.port, exc), file=sys.stderr)
        return 2
    except StoreUnavailableError as exc:  # at start-up: the database never answered
        print(f"tocsin serve: the store could not be opened: {exc}\n  check --store / "
              "TOCSIN_STORE and that the database is running and reachable",
              file=sys.stderr)
        return 1
    return 0


def _unlistenable(host: str, port: int) -> OSError | None:
    """The error binding ``host:port`` gives now, as the server will bind it (address
    reuse on, so a socket in TIME_WAIT is not "in use"); None when it can be bound. The
    bind at start-up is still checked: another process may take the port meanwhile."""
    import socket  # noqa: PLC0415

    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return None  # the server's own bind reports it
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                return exc
    return None


def address_problem(host: str, port: int, exc: OSError) -> str:
    """What to do when the address cannot be listened on, instead of a traceback: the
    setting and the flag that choose another (``make run`` passes the environment on)."""
    why = {errno.EADDRINUSE: "is in use by another process",
           errno.EACCES: "needs privileges this process does not have",
           errno.EADDRNOTAVAIL: "is not an address of this machine"}.get(
               exc.errno or 0, exc.strerror or str(exc))
    return (f"tocsin serve: cannot listen on {host}:{port}: the address {why}.\n"
            f"  Choose another port with --port N or the setting port (TOCSIN_PORT=N, e.g. "
            f"`TOCSIN_PORT={port + 1} make run`),\n"
            "  or another address with --host or the setting host (TOCSIN_HOST).")
