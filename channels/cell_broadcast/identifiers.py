"""Which Message Identifier ("channel" on the handset) an alert goes out on.

Stage: pure policy of the cell broadcast adapter. ``status=Test`` and
``status=Exercise`` use the deployment's test and exercise identifiers; an
actual alert uses the CMAS matrix (3GPP TS 23.041 §9.4.1.2.2: severity x
urgency x certainty -> 4371-4378) when the deployment asks for it, else the
first matching row of its table. ``System`` and ``Draft`` messages, and alerts
no row matches, are not for cell broadcast (``NotApplicableError``).
"""

from __future__ import annotations

from channels.cell_broadcast.config import IdentifierRule, Identifiers
from router.channel import Alert, Info, NotApplicableError, Status

CMAS_MATRIX: dict[tuple[str, str, str], int] = {
    ("Extreme", "Immediate", "Observed"): 4371, ("Extreme", "Immediate", "Likely"): 4372,
    ("Extreme", "Expected", "Observed"): 4373, ("Extreme", "Expected", "Likely"): 4374,
    ("Severe", "Immediate", "Observed"): 4375, ("Severe", "Immediate", "Likely"): 4376,
    ("Severe", "Expected", "Observed"): 4377, ("Severe", "Expected", "Likely"): 4378,
}
_PAIRS = {4396: 4397, 4398: 4399}


def additional_language_id(message_id: int) -> int | None:
    """The twin identifier for a second language (+13 in 4370-4382), or None."""
    if 4370 <= message_id <= 4382:
        return message_id + 13
    return _PAIRS.get(message_id)


def _matches(rule: IdentifierRule, info: Info) -> bool:
    parameters = {pair.value_name: pair.value for pair in info.parameters}
    return ((not rule.severity or info.severity.value in rule.severity)
            and (not rule.urgency or info.urgency.value in rule.urgency)
            and (not rule.certainty or info.certainty.value in rule.certainty)
            and all(parameters.get(name) == value for name, value in rule.parameter.items()))


def message_identifier(table: Identifiers, alert: Alert, info: Info) -> int:
    if alert.status is Status.TEST and table.test is not None:
        return table.test
    if alert.status is Status.EXERCISE and table.exercise is not None:
        return table.exercise
    if alert.status is not Status.ACTUAL:
        raise NotApplicableError(f"cell broadcast carries no {alert.status.value} messages")
    if table.scheme == "cmas":
        key = (info.severity.value, info.urgency.value, info.certainty.value)
        if key in CMAS_MATRIX:
            return CMAS_MATRIX[key]
    rule = next((r for r in table.rules if _matches(r, info)), None)
    if rule is None:
        raise NotApplicableError(
            f"no message identifier for severity {info.severity.value}, urgency "
            f"{info.urgency.value}, certainty {info.certainty.value}")
    return rule.id
