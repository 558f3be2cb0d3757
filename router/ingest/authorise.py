"""The authorisation step of ``POST /api/v1/alerts``, after validation (and signature
verification), before planning is stored: role, authority policy, references, channels,
scope and whether the alert must wait for a second pair of eyes.

Stage: ingest. The rules themselves are pure (``router.trust``); this module only
gathers what they need (the referenced alerts' authorities, from the store) and turns
their verdict into a 403 with one ``authz.*`` finding per violated rule, or into the
plan and hold the store will keep.

Channels a policy forbids are left out of the plan and reported as ``authz.channel``
warnings; when the policy forbids every channel routing chose, the alert is refused
(403 ``authz.channel``): an alert accepted to reach nobody would look sent but not be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from router.cap import Alert, Finding
from router.cap.findings import error, warning
from router.cap.model import MsgType
from router.http.problems import ProblemError
from router.ingest.context import IngestContext
from router.ingest.plan import plan_deliveries
from router.routing import Decision, Target
from router.store import HoldForApproval, PlannedDelivery
from router.trust import AuthorityPolicy, Principal, Role, confidential


@dataclass(frozen=True)
class Authorised:
    plan: list[PlannedDelivery]
    warnings: list[Finding] = field(default_factory=list)
    hold: HoldForApproval | None = None
    reference_authorities: frozenset[str] = frozenset()


def forbidden(findings: list[Finding]) -> ProblemError:
    return ProblemError(403, findings[0].code, "Not allowed by the authority's policy",
                        "the alert breaks this key's authority policy; see findings",
                        findings=findings)


async def authorise(ctx: IngestContext, principal: Principal, alert: Alert,
                    decision: Decision) -> Authorised:
    """403 ``authz.*`` / ``auth.role``, or what may be planned and whether it waits."""
    ctx.auth.require(principal, Role.CANCEL if alert.msg_type is MsgType.CANCEL
                     else Role.SUBMIT)
    policy = ctx.auth.policy(principal)
    findings = policy.check(alert)
    referenced = await ctx.store.referenced(alert) if alert.references else []
    findings += [error("authz.reference", f"/alert/references (entry {ref.position})",
                       "the referenced alert belongs to an authority whose alerts this key "
                       "may not update, cancel or answer")
                 for ref in referenced if not policy.may_reference(ref.authority)][:1]
    allowed, notes = _allowed_channels(policy, decision)
    plan = plan_deliveries(allowed)
    if decision.targets and not allowed.targets:
        findings.append(error("authz.channel", "/alert", "this authority may use none of "
                              "the channels routing chose for the alert"))
    if findings:
        raise forbidden(findings)
    notes += _scope_notes(ctx, alert, plan)
    reason = ctx.approval.reason(alert, [p.channel for p in plan],
                                 references_approved=any(r.approved for r in referenced))
    hold = None if reason is None else HoldForApproval(
        reason, principal.id, datetime.now(UTC) + ctx.approval.window)
    return Authorised(plan, notes, hold, frozenset({policy.name, *policy.supervises}))


def _allowed_channels(policy: AuthorityPolicy, decision: Decision
                      ) -> tuple[Decision, list[Finding]]:
    """The decision without the channels (and fallbacks) the policy forbids."""
    named = [t.channel for t in decision.targets] + [c for t in decision.targets
                                                     for c in t.fallback]
    _kept, refused = policy.split_channels(dict.fromkeys(named))
    if not refused:
        return decision, []
    targets = [Target(t.channel, t.route, tuple(c for c in t.fallback if c not in refused))
               for t in decision.targets if t.channel not in refused]
    notes = [warning("authz.channel", "/alert", f"not planned on {name!r}: this authority "
                     "may not use that channel") for name in refused]
    return Decision(targets=targets, trace=decision.trace, vetoed=decision.vetoed), notes


def _scope_notes(ctx: IngestContext, alert: Alert, plan: list[PlannedDelivery]
                 ) -> list[Finding]:
    if not confidential(alert):
        return []
    return [warning("authz.scope", "/alert/scope",
                    f"{alert.scope.value} alert: not sent on public channel {p.channel!r} "
                    "(its delivery ends skipped, reason scope)")
            for p in plan if (caps := ctx.capabilities.get(p.channel)) is not None
            and caps.public]
