"""``tocsin routes test FILE... [--routes PATH]``: where an alert goes, and why.

Like ``amtool config routes test``: the tree is walked exactly as the service
walks it, and every route considered is printed with its verdict and the reason,
then the delivery plan the service would store (``router.ingest.plan``: primaries,
and each fallback on standby).

The whole plan includes the rule that an Update or a Cancel also goes to every
channel that carried what it references, whatever routing says of the new message
(a Cancel usually has no ``<info>`` for rules to match): those channels are listed
as ``via references``. Files are read in the order given, so
``tocsin routes test fire.xml fire-update.xml fire-cancel.xml`` shows the Cancel
reaching the channels of the alert and of its Update. A reference to an alert not
among the files is named: the service sends to the channels that carried it if its
store has it, and holds an Update or Cancel none of whose references it knows
(``held_unknown_reference``) unless the sender's policy forwards them.

Exit status: 0 explained; 2 unreadable alert or invalid rules.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from router.cap import Alert, parse_cap
from router.cap.model import MsgType
from router.ingest.plan import plan_deliveries
from router.routing import Decision, Router, RoutingConfigError, load_routing
from router.store import PlannedDelivery

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


CapKey = tuple[str, str, str]


@dataclass
class Explained:
    """One file's routing decision, its plan, and what its references add."""

    path: Path
    decision: Decision
    plan: list[PlannedDelivery]
    follow_ups: list[tuple[str, str]] = field(default_factory=list)
    """(channel, file whose alert it carried) added by the references rule."""
    unknown_references: list[str] = field(default_factory=list)
    held: bool = False


def _key(sender: str, identifier: str, sent: datetime) -> CapKey:
    return sender, identifier, sent.astimezone(UTC).isoformat()


def explain(path: Path, alert: Alert, router: Router,
            carried: dict[CapKey, tuple[Path, list[str]]]) -> Explained:
    """The plan for ``alert``; ``carried`` holds the channels of the files before it
    (by CAP key), and gets this one's added."""
    decision = router.decide(alert)
    explained = Explained(path, decision, plan_deliveries(decision))
    follows = alert.msg_type in (MsgType.UPDATE, MsgType.CANCEL)
    planned = {p.channel for p in explained.plan}
    known = 0
    for ref in alert.references or ():
        earlier = carried.get(_key(ref.sender, ref.identifier, ref.sent))
        if earlier is None:
            explained.unknown_references.append(f"{ref.sender},{ref.identifier}")
            continue
        known += 1
        for channel in earlier[1] if follows else ():
            if channel not in planned:
                planned.add(channel)
                explained.follow_ups.append((channel, str(earlier[0])))
    explained.held = follows and bool(alert.references) and known == 0
    primaries = [p.channel for p in explained.plan if p.fallback_for is None]
    carried[_key(alert.sender, alert.identifier, alert.sent)] = (
        path, primaries + [channel for channel, _ in explained.follow_ups])
    return explained


def _text(explained: Explained) -> None:
    decision = explained.decision
    print(f"{explained.path}:")
    for step in decision.trace:
        mark = "match" if step.matched else "no"
        print(f"  {'  ' * step.depth}{step.route:<24} {mark:6} {step.reason}")
    for target in decision.targets:
        fallback = f" (fallback: {', '.join(target.fallback)})" if target.fallback else ""
        print(f"  -> {target.channel} via {target.route}{fallback}")
    for channel, source in explained.follow_ups:
        print(f"  -> {channel} via references (it carried {source})")
    for channel, why in decision.vetoed.items():
        print(f"  x  {channel} vetoed by {why}")
    for reference in explained.unknown_references:
        print(f"  ?  references {reference}: not among the files given; the service "
              "adds the channels that carried it if its store has it")
    if explained.held:
        print("  !  none of its references is among the files: a store that does not know "
              "them holds it (held_unknown_reference) unless the sender's policy has "
              "forward_unknown_references")


def _json(explained: Explained) -> dict[str, Any]:
    decision = explained.decision
    return {
        "file": str(explained.path),
        "targets": [{"channel": t.channel, "route": t.route, "fallback": list(t.fallback)}
                    for t in decision.targets],
        "plan": [{"channel": p.channel, "route": p.route, "fallback_for": p.fallback_for}
                 for p in explained.plan]
        + [{"channel": channel, "route": "references", "fallback_for": None}
           for channel, _source in explained.follow_ups],
        "follow_ups": [{"channel": channel, "carried": source}
                       for channel, source in explained.follow_ups],
        "unknown_references": explained.unknown_references,
        "held_if_unknown": explained.held,
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
    carried: dict[CapKey, tuple[Path, list[str]]] = {}
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
        explained = explain(path, outcome.document.alert, router, carried)
        if args.format == "json":
            results.append(_json(explained))
        else:
            _text(explained)
    if args.format == "json":
        print(json.dumps({"routes": str(args.routes), "results": results}, indent=2))
    return status
