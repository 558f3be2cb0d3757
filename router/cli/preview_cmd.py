"""``tocsin preview FILE... [--config FILE] [--demo] [--format text|json]``.

Shows what each person will get before the alert is sent: every language
variant (full text, screen-reader-safe text, structured summary, readability),
the icon and attention cadence, and for every configured channel instance
(``channels`` in the settings; ``--demo`` adds the demo's channels) and each
reference short form the text it will carry, with its cost, limit, budget use,
pages/parts where the channel's budget counts them, and the slots dropped. Cell
broadcast and SMS show what their ``send`` builds (the composed message, as one
message when it is bilingual; the parts per language), by the same code.
Nothing is sent and no network element is contacted.

Exit status: 0 every form fits and nothing is missing; 1 a form cannot fit or a
finding is an error (e.g. ``missing_language: reject``); 2 unreadable file or
invalid configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FINDINGS, EXIT_UNREADABLE = 0, 1, 2
_PLACEHOLDER_URL = "http://127.0.0.1:9"  # discard port: channels are built, never started


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("preview", help="show every variant per channel",
                                   description=__doc__)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--config", type=Path, help="settings file (YAML) naming channels")
    parser.add_argument("--accessibility-dir", type=Path,
                        help="accessibility configuration (default config/accessibility)")
    parser.add_argument("--demo", action="store_true", help="include the demo's channels")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run)


def _setup(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """(Renderer, channel name -> capabilities); raises ConfigurationError/ValueError."""
    from router.app import _demo_elements, channel_configs  # noqa: PLC0415
    from router.assets import load_accessibility  # noqa: PLC0415
    from router.registry import build_channels  # noqa: PLC0415
    from router.render import Renderer  # noqa: PLC0415
    from router.settings import load_settings  # noqa: PLC0415

    settings = load_settings(args.config, demo=True if args.demo else None,
                             accessibility_dir=args.accessibility_dir)
    urls = {e.channel: _PLACEHOLDER_URL for e in _demo_elements()} if settings.demo else {}
    channels = build_channels(channel_configs(settings, urls))
    return (Renderer(load_accessibility(settings.accessibility_dir)),
            {name: channel.capabilities for name, channel in channels.items()})


def _report(path: Path, renderer: Any, capabilities: dict[str, Any]) -> dict[str, Any]:
    from router.cap import has_errors, parse_cap  # noqa: PLC0415
    from router.render import fit_findings, preview, short_findings  # noqa: PLC0415

    outcome = parse_cap(path.read_bytes())
    if outcome.document is None:
        return {"file": str(path), "readable": False,
                "findings": [f.model_dump(mode="json") for f in outcome.findings]}
    rendered = renderer.render(outcome.document.alert)
    rows = preview(rendered, capabilities, renderer.config.reference_forms,
                   outcome.document.alert)
    channel_rows = [r for r in rows if r.kind == "channel"]
    findings = list(rendered.findings) + fit_findings(channel_rows) + short_findings(rows)
    return {
        "file": str(path), "readable": True, "languages": list(rendered.languages),
        "ok": not has_errors(findings) and all(r.fits for r in channel_rows),
        "findings": [f.model_dump(mode="json") for f in findings],
        "icon": rendered.icon.id if rendered.icon else None,
        "cadence": {"id": rendered.cadence.id, "duration_ms": rendered.cadence.duration_ms}
        if rendered.cadence else None,
        "sign_language": list(rendered.sign_language),
        "variants": [{"language": v.language, "origin": v.origin, "summary": v.summary,
                      "screen_reader_text": v.screen_reader_text,
                      "readability": v.readability} for v in rendered.variants],
        "forms": [r.as_dict() for r in rows],
    }


def _text(report: dict[str, Any]) -> None:
    print(f"{report['file']}:")
    if not report["readable"]:
        print("  not a usable CAP alert: " + ", ".join(f["code"] for f in report["findings"]))
        return
    cadence = report["cadence"]
    print(f"  languages: {', '.join(report['languages']) or '-'}   icon: {report['icon']}   "
          f"cadence: {cadence['id'] if cadence else '-'}"
          + (f" ({cadence['duration_ms'] / 1000:g} s)" if cadence else ""))
    for finding in report["findings"]:
        print(f"  {finding['severity']:7} {finding['code']:32} {finding['message']}")
    for variant in report["variants"]:
        scores = ", ".join(f"{k} {v:g}" for k, v in variant["readability"].items())
        print(f"  -- {variant['language']} ({variant['origin']}) {scores}")
        for line in variant["summary"].splitlines():
            print(f"     | {line}")
    for form in report["forms"]:
        if form["kind"] == "channel" and form["segments"] is not None and form["text"]:
            print(f"  == {form['target']} {form['language']} "
                  f"({form['segments']} {form['alphabet'] or ''} segments)")
            for line in form["text"].splitlines():
                print(f"     | {line}")
    print(f"  {'target':18} {'lang':13} {'budget':24} {'cost/limit':>12} {'use':>7} "
          f"{'segments':>8}  fits  dropped")
    for form in report["forms"]:
        limit = "-" if form["limit"] is None else str(form["limit"])
        use = "-" if form["use_percent"] is None else f"{form['use_percent']:g}%"
        segments = "-" if form["segments"] is None else str(form["segments"])
        print(f"  {form['target']:18} {form['language'][:13]:13} {form['budget'][:24]:24} "
              f"{str(form['cost']) + '/' + limit:>12} {use:>7} {segments:>8}  "
              f"{'yes' if form['fits'] else 'NO':4}  {', '.join(form['dropped']) or '-'}")


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError  # noqa: PLC0415

    from router.assets import AccessibilityConfigError  # noqa: PLC0415
    from router.errors import ConfigurationError  # noqa: PLC0415

    try:
        renderer, capabilities = _setup(args)
    except (ConfigurationError, AccessibilityConfigError) as exc:
        print(f"tocsin preview: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    except (ValidationError, FileNotFoundError) as exc:
        print(f"tocsin preview: invalid settings:\n{exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    reports, status = [], EXIT_OK
    for path in args.files:
        try:
            report = _report(path, renderer, capabilities)
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
            status = EXIT_UNREADABLE
            continue
        if not report["readable"]:
            status = EXIT_UNREADABLE
        elif not report["ok"]:
            status = max(status, EXIT_FINDINGS)
        reports.append(report)
        if args.format == "text":
            _text(report)
    if args.format == "json":
        print(json.dumps({"results": reports}, indent=2, ensure_ascii=False))
    return status
