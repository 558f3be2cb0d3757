"""The command line speaks plainly: ``--version`` names the installed code, and no help
text shows reStructuredText markup (the docstrings' double backticks) to the operator."""

from __future__ import annotations

import argparse
from importlib.metadata import version

import pytest

from router.cli import build_parser, main


def _every_parser(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _every_parser(sub)
    return found


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"tocsin {version('tocsin')}"


def test_no_help_text_shows_backticks() -> None:
    parsers = _every_parser(build_parser())
    assert len(parsers) > 15  # every command and action was walked
    marked = [parser.prog for parser in parsers if "`" in parser.format_help()]
    assert marked == []
