"""``POST /api/v1/alerts/{id}/deliveries/{channel}/retry``: send one channel again.

Stage: ingest (HTTP). An operator whose channel failed or expired (the CBC was
down past the alert's retries, a refused message fixed in configuration) asks for
that one delivery again while the alert is still in force; the other channels are
not touched. Checks, each with its status and problem code:

1. API key (401 ``auth.*``) holding ``submit`` (403 ``auth.role``); the alert exists and
   is one the key's authority may read (404 ``alert.not-found`` otherwise)
2. the key's authority may use the alert's CAP ``sender`` (403
   ``auth.sender-not-allowed``): only who may issue the alert may re-send it
3. the alert has a delivery on that channel (404 ``delivery.not-found``)
4. the alert is in force: not cancelled or superseded (409 ``delivery.alert-not-in-force``)
5. the delivery is ``failed`` or ``expired`` (409 ``delivery.not-retryable``: a delivered,
   pending or skipped delivery is not re-sent; a skipped one was never meant to go)
6. its ``<expires>`` has not passed (422 ``delivery.alert-expired``: it could not be sent)

Then 202: the delivery is pending, its back-off starts afresh, an alert without
``<expires>`` gets a new retry window from now, and the delivery records who asked
(authority and key id). Every request, re-planned or refused, is one log line
(``router.record.intake``); a re-plan is also an entry of the audit trail, appended in
the transaction that makes it. The store checks 3-6 and changes the delivery in one
transaction, so two operators asking at once re-plan it once.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from aiohttp import web

from router.http.problems import ProblemError
from router.ingest.context import CONTEXT
from router.ingest.handlers import _json, _not_found, _status_url
from router.ingest.schemas import PrincipalOut, RetryAccepted
from router.store import ReplanOutcome, ReplanResult, Requester
from router.trust import Role

_REFUSALS: dict[ReplanOutcome, tuple[int, str, str]] = {
    ReplanOutcome.NO_DELIVERY: (404, "delivery.not-found", "No such delivery"),
    ReplanOutcome.NOT_IN_FORCE: (409, "delivery.alert-not-in-force", "Alert not in force"),
    ReplanOutcome.NOT_RETRYABLE: (409, "delivery.not-retryable", "Delivery not retryable"),
    ReplanOutcome.EXPIRED: (422, "delivery.alert-expired", "Alert expired"),
}


def _refusal(result: ReplanResult, alert_id: str, channel: str) -> ProblemError:
    if result.outcome is ReplanOutcome.NO_ALERT:
        return _not_found(alert_id)
    status, code, title = _REFUSALS[result.outcome]
    detail = {
        ReplanOutcome.NO_DELIVERY: f"alert {alert_id} has no delivery on channel {channel!r}",
        ReplanOutcome.NOT_IN_FORCE: f"alert {alert_id} is {result.state}; only an alert in "
                                    "force is sent again",
        ReplanOutcome.NOT_RETRYABLE: f"the {channel} delivery is {result.state}; only a "
                                     "failed or expired delivery is retried",
        ReplanOutcome.EXPIRED: f"alert {alert_id} is past its <expires>; it can no longer "
                               "be sent",
    }[result.outcome]
    return ProblemError(status, code, title, detail)


async def retry_delivery(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    header = request.headers.get("Authorization")
    alert_id, channel = request.match_info["alert_id"], request.match_info["channel"]
    try:
        caller = await ctx.auth.authenticate(header)
        ctx.auth.require(caller, Role.SUBMIT)
    except ProblemError as problem:
        ctx.recorder.intake.retry_requested(authority=None, key=None, alert_id=alert_id,
                                            channel=channel, status=problem.status,
                                            code=problem.code)
        raise
    principal = Requester(caller.authority, ctx.auth.key_id(header))
    structlog.contextvars.bind_contextvars(authority=caller.authority, alert_id=alert_id)
    try:
        record = await ctx.store.get(alert_id)
        if record is None or not ctx.auth.policy(caller).may_read(record.authority):
            raise _not_found(alert_id)
        ctx.auth.authorise_sender(caller, record.sender)
        result = await ctx.store.replan(alert_id, channel, principal, datetime.now(UTC))
        if result.outcome is not ReplanOutcome.REPLANNED:
            raise _refusal(result, alert_id, channel)
    except ProblemError as problem:
        ctx.recorder.intake.retry_requested(authority=principal.authority, key=principal.key,
                                            alert_id=alert_id, channel=channel,
                                            status=problem.status, code=problem.code)
        raise
    ctx.recorder.intake.retry_requested(authority=principal.authority, key=principal.key,
                                        alert_id=alert_id, channel=channel, status=202)
    ctx.on_accepted()  # wakes the dispatcher
    ctx.recorder.progress.changed(alert_id)
    return _json(RetryAccepted(
        alert_id=alert_id, channel=channel, state=result.state or "pending",
        status_url=_status_url(alert_id),
        requested_by=PrincipalOut(authority=principal.authority, key=principal.key)),
        status=202)
