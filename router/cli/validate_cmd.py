"""``tocsin validate FILE... [--profile NAME] [--format text|json]``.

Exit status: 0 every file valid; 1 at least one file has error findings;
2 at least one file could not be read (missing file, not XML, hostile XML,
too large, not a CAP ``<alert>``). The worst status over all files wins.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from router.cap import ParseOutcome, XmlLimits, has_errors
from router.cap.findings import error
from router.profiles import DEFAULT_PROFILE, ProfileConfigError, load_profiles

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("validate", help="validate CAP files against a profile",
                                   description=__doc__)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help=f"validation profile (default {DEFAULT_PROFILE})")
    parser.add_argument("--profile-dir", action="append", type=Path, default=[],
                        help="extra directory of profile YAML files (repeatable)")
    parser.add_argument("--max-bytes", type=int, default=XmlLimits().max_bytes,
                        help="largest document accepted, in bytes")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run)


def _status(outcome: ParseOutcome) -> int:
    if not outcome.readable:
        return EXIT_UNREADABLE
    return EXIT_INVALID if has_errors(outcome.findings) or outcome.document is None else EXIT_VALID


def _check_file(path: Path, args: argparse.Namespace, profiles: Any) -> ParseOutcome:
    try:
        data = path.read_bytes()
    except OSError as exc:
        finding = error("file.unreadable", str(path), f"cannot read the file: {exc.strerror}")
        return ParseOutcome(None, [finding], readable=False)
    outcome: ParseOutcome = profiles.validate(data, args.profile, XmlLimits(args.max_bytes))
    return outcome


def _report_text(path: Path, outcome: ParseOutcome, status: int) -> None:
    verdict = {EXIT_VALID: "valid", EXIT_INVALID: "INVALID", EXIT_UNREADABLE: "UNREADABLE"}
    version = f" (CAP {outcome.document.source_version})" if outcome.document else ""
    print(f"{path}: {verdict[status]}{version}")
    for finding in outcome.findings:
        print(f"  {finding.severity.value:7} {finding.code:32} {finding.location}: "
              f"{finding.message}")


def _report_json(path: Path, outcome: ParseOutcome, status: int) -> dict[str, Any]:
    return {
        "file": str(path),
        "valid": status == EXIT_VALID,
        "readable": outcome.readable,
        "cap_version": outcome.document.source_version if outcome.document else None,
        "findings": [finding.model_dump(mode="json") for finding in outcome.findings],
    }


def run(args: argparse.Namespace) -> int:
    try:
        profiles = load_profiles(args.profile_dir)
        profiles.get(args.profile)
    except ProfileConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREADABLE
    except KeyError as exc:
        print(f"tocsin validate: {exc.args[0]}", file=sys.stderr)
        return EXIT_UNREADABLE
    worst, reports = EXIT_VALID, []
    for path in args.files:
        outcome = _check_file(path, args, profiles)
        status = _status(outcome)
        worst = max(worst, status)
        if args.format == "json":
            reports.append(_report_json(path, outcome, status))
        else:
            _report_text(path, outcome, status)
    if args.format == "json":
        print(json.dumps({"profile": args.profile, "results": reports}, indent=2))
    return worst
