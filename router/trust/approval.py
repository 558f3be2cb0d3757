"""Four-eyes approval: which accepted alerts wait for a second principal.

Stage: trust (pure). ``ApprovalPolicy.reason(...)`` says why an alert must wait in
``pending_approval`` (the rule it matched), or None when it goes out at once. The
approval itself (who, when, the window) is kept by the store; the HTTP stage checks
that the approver is a different principal holding ``approve`` for the authority.

Rules (``approval.rules`` in the settings): an alert needs approval when every
condition of any one rule holds. An Update or a Cancel of an alert that was itself
approved needs approval too ("the same policy"), except that a Cancel needs none
unless ``cancel_needs_approval`` is set: withdrawing a warning must never wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from router.cap.model import Alert, MsgType, Severity, Status
from router.settings import ApprovalRule, ApprovalSettings, Settings


@dataclass(frozen=True)
class ApprovalPolicy:
    enabled: bool = False
    rules: tuple[ApprovalRule, ...] = ()
    window: timedelta = timedelta(minutes=10)
    cancel_needs_approval: bool = False
    described: str = field(default="off")

    def reason(self, alert: Alert, channels: Sequence[str], *,
               references_approved: bool) -> str | None:
        """Why ``alert`` (routed to ``channels``) must wait for approval, else None."""
        if not self.enabled:
            return None
        if alert.msg_type is MsgType.CANCEL and not self.cancel_needs_approval:
            return None
        for number, rule in enumerate(self.rules, start=1):
            if _matches(rule, alert, channels):
                return f"approval rule {number} ({_describe(rule)})"
        if references_approved and alert.msg_type in (MsgType.UPDATE, MsgType.CANCEL):
            return f"{alert.msg_type.value} of an alert that needed approval"
        return None


def _matches(rule: ApprovalRule, alert: Alert, channels: Sequence[str]) -> bool:
    if rule.status is not None and alert.status not in rule.status:
        return False
    if rule.msg_type is not None and alert.msg_type not in rule.msg_type:
        return False
    if rule.severity is not None and not any(i.severity in rule.severity for i in alert.infos):
        return False
    if rule.channels is not None and not set(rule.channels) & set(channels):
        return False
    return rule.parameter is None or any(
        p.value in rule.parameter.get(p.value_name, ())
        for info in alert.infos for p in info.parameters)


def _describe(rule: ApprovalRule) -> str:
    parts = []
    for name, values in (("status", rule.status), ("msgType", rule.msg_type),
                         ("severity", rule.severity), ("channel", rule.channels)):
        if values is not None:
            parts.append(f"{name} {'/'.join(str(v) for v in values)}")
    for key, values in (rule.parameter or {}).items():
        parts.append(f"{key}={'/'.join(values)}")
    return ", ".join(parts) or "every alert"


DEMO_RULES = (ApprovalRule(status=[Status.ACTUAL], severity=[Severity.EXTREME]),)


def approval_policy(settings: Settings) -> ApprovalPolicy:
    """The deployment's approval policy.

    Outside demo mode: ``approval`` as configured, else the defaults (Actual + Extreme,
    or cell broadcast at the Presidential level). Demo mode has one principal unless
    ``dev_approver_key`` is set, so approval is off there unless configured; with the
    approver key the demo asks approval for Actual + Extreme alerts only, and the
    shipped Severe examples flow as before.
    """
    configured = settings.approval
    if configured is None and settings.demo:
        if settings.dev_approver_key is None:
            return ApprovalPolicy()
        configured = ApprovalSettings(rules=list(DEMO_RULES))
    configured = configured or ApprovalSettings()
    rules = tuple(configured.rules)
    return ApprovalPolicy(enabled=configured.enabled and bool(rules), rules=rules,
                          window=timedelta(seconds=configured.window_s),
                          cancel_needs_approval=configured.cancel_needs_approval,
                          described="; ".join(_describe(r) for r in rules) or "off")
