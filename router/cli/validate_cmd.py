"""``tocsin validate FILE... [--profile NAME] [--trust-store PATH] [--format text|json]``.

Each file gets a ``signature:`` line with the XML-DSig verdict (verified, unsigned,
invalid, untrusted) checked against ``--trust-store`` (a PEM file or directory;
without it no signer is trusted), certificates judged at the alert's ``<sent>``.
An invalid signature is an error finding under every profile; an untrusted one
under a profile whose ``signature:`` is ``required`` or ``if-present``.

An alert whose every ``<expires>`` is already past gets ``cap.expires.past``: a
warning, or an error with ``--expired-on-arrival reject`` (as the service does with
its setting ``expired_on_arrival``).

Exit status: 0 every file valid; 1 at least one file has error findings;
2 at least one file could not be read (missing file, not XML, hostile XML,
too large, not a CAP ``<alert>``). The worst status over all files wins.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from router.cap import ParseOutcome, XmlLimits, has_errors
from router.cap.findings import error
from router.cap.rules import arrival_findings
from router.profiles import DEFAULT_PROFILE, ProfileConfigError, ProfileSet, load_profiles
from router.trust import (
    CheckedAlert,
    SignatureChecker,
    SignatureVerdict,
    TrustStoreError,
    load_trust_store,
    read_alert,
)

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
    parser.add_argument("--trust-store", type=Path, default=None, metavar="PATH",
                        help="PEM file or directory of PEM files: CA certificates to chain "
                             "signers to, leaf certificates pinned as signers")
    parser.add_argument("--signature-time", choices=("valid-at-sent", "valid-now"),
                        default="valid-at-sent",
                        help="judge certificates at the alert's <sent> (default) or now")
    parser.add_argument("--expired-on-arrival", choices=("warn", "reject"), default="warn",
                        help="an alert whose every <expires> is past now: a warning "
                             "(default) or an error, as the service's setting of that name")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run)


def _status(outcome: ParseOutcome) -> int:
    if not outcome.readable:
        return EXIT_UNREADABLE
    return EXIT_INVALID if has_errors(outcome.findings) or outcome.document is None else EXIT_VALID


def _check_file(path: Path, args: argparse.Namespace, profiles: ProfileSet,
                checker: SignatureChecker) -> CheckedAlert:
    try:
        data = path.read_bytes()
    except OSError as exc:
        finding = error("file.unreadable", str(path), f"cannot read the file: {exc.strerror}")
        return CheckedAlert(ParseOutcome(None, [finding], readable=False), None)
    checked = read_alert(data, profiles, args.profile, checker, XmlLimits(args.max_bytes))
    document = checked.outcome.document
    if document is None:
        return checked
    arrival = arrival_findings(document.alert, datetime.now(UTC),
                               reject_expired=args.expired_on_arrival == "reject")
    outcome = replace(checked.outcome, findings=[*checked.outcome.findings, *arrival])
    return replace(checked, outcome=outcome)


def _signature_line(verdict: SignatureVerdict) -> str:
    detail = [f"signer {verdict.signer}"] if verdict.signer else []
    if verdict.certificate_sha256:
        detail.append(f"certificate sha256 {verdict.certificate_sha256}")
    if verdict.judged_at is not None:
        detail.append(f"judged at {verdict.judged_at.isoformat()} ({verdict.mode})")
    if verdict.problem is not None:
        detail.append(verdict.problem.code)
    return f"  signature: {verdict.state.value}" + (f" ({'; '.join(detail)})" if detail else "")


def _report_text(path: Path, checked: CheckedAlert, status: int) -> None:
    verdict = {EXIT_VALID: "valid", EXIT_INVALID: "INVALID", EXIT_UNREADABLE: "UNREADABLE"}
    outcome = checked.outcome
    version = f" (CAP {outcome.document.source_version})" if outcome.document else ""
    print(f"{path}: {verdict[status]}{version}")
    if checked.signature is not None:
        print(_signature_line(checked.signature))
    for finding in outcome.findings:
        print(f"  {finding.severity.value:7} {finding.code:32} {finding.location}: "
              f"{finding.message}")


def _report_json(path: Path, checked: CheckedAlert, status: int) -> dict[str, Any]:
    outcome = checked.outcome
    return {
        "file": str(path),
        "valid": status == EXIT_VALID,
        "readable": outcome.readable,
        "cap_version": outcome.document.source_version if outcome.document else None,
        "signature": checked.signature.to_json() if checked.signature else None,
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
    try:
        checker = SignatureChecker(load_trust_store(args.trust_store), mode=args.signature_time)
    except TrustStoreError as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREADABLE
    worst, reports = EXIT_VALID, []
    for path in args.files:
        checked = _check_file(path, args, profiles, checker)
        status = _status(checked.outcome)
        worst = max(worst, status)
        if args.format == "json":
            reports.append(_report_json(path, checked, status))
        else:
            _report_text(path, checked, status)
    if args.format == "json":
        print(json.dumps({"profile": args.profile, "results": reports}, indent=2))
    return worst
