"""``tocsin routes test FILE... [--routes PATH]``: which routes match an alert, and why.

Like ``amtool config routes test``: the tree is walked exactly as the
dispatcher walks it, and every route considered is printed with its verdict and
the reason. Exit status: 0 explained; 2 unreadable alert or invalid rules.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from router.cap import parse_cap
from router.routing import Decision, Router, RoutingConfigError, load_routing

DEFAULT_ROUTES = Path("config/routes.yaml")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("routes", help="inspect routing rules")
    actions = parser.add_subparsers(dest="routes_command", required=True, metavar="ACTION")
    test = actions.add_parser("test", help="explain which routes an alert matches",
                              description=__doc__)
    test.add_argument("files", nargs="+", type=Path, metavar="FILE")
    test.add_argument("--routes", type=Path, default=DEFAULT_ROUTES,
                      help=f"routing rules (default {DEFAULT_ROUTES})")
    test.add_argument("--format", choices=("text", "json"), default="text")
    test.set_defaults(handler=run)


def _text(path: Path, decision: Decision) -> None:
    print(f"{path}:")
    for step in decision.trace:
        mark = "match" if step.matched else "no"
        print(f"  {'  ' * step.depth}{step.route:<24} {mark:6} {step.reason}")
    for target in decision.targets:
        fallback = f" (fallback: {', '.join(target.fallback)})" if target.fallback else ""
        print(f"  -> {target.channel} via {target.route}{fallback}")
    for channel, why in decision.vetoed.items():
        print(f"  x  {channel} vetoed by {why}")


def _json(path: Path, decision: Decision) -> dict[str, Any]:
    return {
        "file": str(path),
        "targets": [{"channel": t.channel, "route": t.route, "fallback": list(t.fallback)}
                    for t in decision.targets],
        "vetoed": decision.vetoed,
        "trace": [{"route": s.route, "depth": s.depth, "matched": s.matched,
                   "reason": s.reason} for s in decision.trace],
    }


def run(args: argparse.Namespace) -> int:
    try:
        router = Router(load_routing(args.routes))
    except RoutingConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    results, status = [], 0
    for path in args.files:
        try:
            outcome = parse_cap(path.read_bytes())
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
            status = 2
            continue
        if outcome.document is None:
            codes = ", ".join(f.code for f in outcome.findings)
            print(f"{path}: not a usable CAP alert ({codes})", file=sys.stderr)
            status = 2
            continue
        decision = router.decide(outcome.document.alert)
        if args.format == "json":
            results.append(_json(path, decision))
        else:
            _text(path, decision)
    if args.format == "json":
        print(json.dumps({"routes": str(args.routes), "results": results}, indent=2))
    return status
