"""The ``tocsin`` command line: one sub-module per sub-command.

Stage: the top of the import order (a composition root, like ``router.app``).
Each sub-module exposes ``register(subparsers)`` which adds its parser and sets
``handler`` to a function taking the parsed arguments and returning the exit
status. Sub-commands import their heavy dependencies lazily so that
``tocsin validate`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version

import structlog

from router.cli import (
    approval_cmd,
    audit_cmd,
    check_config_cmd,
    keys_cmd,
    mock_cmd,
    preview_cmd,
    retry_cmd,
    routes_cmd,
    send_cmd,
    serve_cmd,
    subscribers_cmd,
    validate_cmd,
)

_COMMANDS = (serve_cmd, send_cmd, retry_cmd, validate_cmd, routes_cmd, keys_cmd, mock_cmd,
             preview_cmd, subscribers_cmd, audit_cmd, approval_cmd, check_config_cmd)


_LITERAL = re.compile(r"``([^`]+)``|`([^`]+)`")


def plain(text: str | None) -> str | None:
    """Help text as a terminal shows it: the modules' docstrings mark names as
    reStructuredText literals (````x````), which ``--help`` would print verbatim."""
    if text is None:
        return None
    return _LITERAL.sub(lambda match: match.group(1) or match.group(2), text)


def tocsin_version() -> str:
    """The installed distribution's version (what ``pip`` installed), so that a report
    of a problem names the code that had it."""
    try:
        return version("tocsin")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown (not installed)"


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = plain(choice.help)
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tocsin", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version",
                        version=f"tocsin {tocsin_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.register(subparsers)
    for each in _parsers(parser):
        # Descriptions are the commands' docstrings: keep their paragraphs and lists.
        each.formatter_class = argparse.RawDescriptionHelpFormatter
        each.description = plain(each.description)
        each.epilog = plain(each.epilog)
        for action in each._actions:
            action.help = plain(action.help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A command's output is its stdout (JSON, a table, a status URL); anything the
    # service code logs while a command runs goes to stderr. `serve` logs to stdout
    # (the service's log stream) by configuring logging itself.
    structlog.configure(logger_factory=_stderr_logger)
    status: int = args.handler(args)
    return status


def _stderr_logger(*_names: object) -> structlog.PrintLogger:
    """A logger on ``sys.stderr`` as it is when the logger is made, not when ``main``
    ran: whoever called ``main`` in-process (a test capturing output) may replace or
    close that stream afterwards."""
    return structlog.PrintLogger(sys.stderr)


def run() -> None:
    """The ``tocsin`` command: ``main``, then leave without interpreter finalization.

    The SMPP library (``smpp34``) runs a Rust (tokio) runtime whose worker threads
    outlive every client and server Tocsin closed; when one of them touches a Python
    object while the interpreter tears down, the process aborts (``Fatal Python
    error: PyGILState_Release``, exit -6) -- about one clean stop in ten here, after
    ``service.stopped`` was logged and every write committed. A supervisor reads that
    as a crash. By the time ``main`` returns, the store is closed, the data-directory
    lock goes with the process and nothing registers exit handlers, so finalization
    has nothing left to do: flush the output and end with ``main``'s status."""
    status = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or its reader left
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
