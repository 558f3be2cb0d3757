"""The ``tocsin`` command line: one sub-module per sub-command.

Stage: the top of the import order (a composition root, like ``router.app``).
Each sub-module exposes ``register(subparsers)`` which adds its parser and sets
``handler`` to a function taking the parsed arguments and returning the exit
status. Sub-commands import their heavy dependencies lazily so that
``tocsin validate`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import structlog

from router.cli import (
    keys_cmd,
    mock_cmd,
    preview_cmd,
    routes_cmd,
    send_cmd,
    serve_cmd,
    subscribers_cmd,
    validate_cmd,
)

_COMMANDS = (serve_cmd, send_cmd, validate_cmd, routes_cmd, keys_cmd, mock_cmd, preview_cmd,
             subscribers_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tocsin", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.register(subparsers)
    return parser


def _stderr_logger(*_args: object) -> structlog.PrintLogger:
    return structlog.PrintLogger(sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A command's output is its stdout (JSON, a table, a status URL); anything the
    # service code logs while a command runs goes to stderr. `serve` logs to stdout
    # (the service's log stream) by configuring logging itself.
    # (the factory looks sys.stderr up each time, so a replaced stream is followed)
    structlog.configure(logger_factory=_stderr_logger)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
