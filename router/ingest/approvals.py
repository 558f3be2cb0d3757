"""``POST /api/v1/alerts/{id}/approve`` and ``/reject``: the second pair of eyes.

Stage: ingest (HTTP). The caller must hold ``approve`` and belong to the alert's
authority (or one that supervises it); the store re-checks, inside the transaction
that decides, that the alert still waits, that its window is open and that the
approver is not the principal who submitted it (403 ``authz.same-person``). An alert
of an authority the caller may not see answers 404, like one that does not exist.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from router.http.problems import ProblemError
from router.ingest.access import readable_record
from router.ingest.handlers import _json, alert_out
from router.ingest.schemas import DecisionIn
from router.store import DecisionOutcome
from router.trust import Role


async def _decision_body(request: web.Request) -> DecisionIn:
    if not request.can_read_body:
        return DecisionIn()
    try:
        return DecisionIn.model_validate_json(await request.read())
    except ValidationError as exc:
        raise ProblemError(400, "approval.bad-body", "Bad decision body",
                           'send JSON like {"reason": "why"}; '
                           + "; ".join(e["msg"] for e in exc.errors())) from exc


def _refused(outcome: DecisionOutcome, alert_id: str) -> ProblemError:
    if outcome is DecisionOutcome.SAME_PERSON:
        return ProblemError(403, "authz.same-person", "Four eyes, not two",
                            "the principal who submitted an alert cannot approve or reject "
                            "it; another principal holding 'approve' must")
    if outcome is DecisionOutcome.EXPIRED:
        return ProblemError(409, "approval.expired", "Approval window closed",
                            f"alert {alert_id!r} was not approved in time and is now "
                            "expired_unapproved; submit it again if it is still needed")
    if outcome is DecisionOutcome.NOT_FOUND:
        return ProblemError(404, "alert.not-found", "No such alert",
                            f"no alert with id {alert_id!r}")
    return ProblemError(409, "approval.not-pending", "Not waiting for approval",
                        f"alert {alert_id!r} is not pending approval (decided before, "
                        "cancelled, or it never needed approval)")


async def approve_alert(request: web.Request) -> web.Response:
    ctx, principal, record = await readable_record(request, Role.APPROVE)
    if not ctx.auth.policy(principal).may_reference(record.authority):
        raise _refused(DecisionOutcome.NOT_FOUND, record.id)
    await _decision_body(request)
    outcome = await ctx.store.approve(record.id, principal.id)
    if outcome is not DecisionOutcome.DONE:
        raise _refused(outcome, record.id)
    ctx.on_accepted()
    decided = await ctx.store.get(record.id)
    return _json(await alert_out(ctx, decided or record))


async def reject_alert(request: web.Request) -> web.Response:
    ctx, principal, record = await readable_record(request, Role.APPROVE)
    if not ctx.auth.policy(principal).may_reference(record.authority):
        raise _refused(DecisionOutcome.NOT_FOUND, record.id)
    body = await _decision_body(request)
    if not body.reason:
        raise ProblemError(400, "approval.reason-required", "Reason required",
                           'a rejection needs a reason: {"reason": "why"}')
    outcome = await ctx.store.reject(record.id, principal.id, body.reason)
    if outcome is not DecisionOutcome.DONE:
        raise _refused(outcome, record.id)
    decided = await ctx.store.get(record.id)
    return _json(await alert_out(ctx, decided or record))
