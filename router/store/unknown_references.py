"""An Update or Cancel that references nothing this store knows is held, not broadcast.

Stage: the store layer, pure (no I/O): the store calls it inside the accept
transaction with the references it resolved there, so an original accepted a moment
earlier is seen, and the decision and the state it leads to are one commit.

Why: a Cancel of an alert that was never announced here would go out as "the warning
has been withdrawn" to every phone (routing gives a Cancel without ``<info>`` the
default channels), telling people about a warning they never had, and an Update of
nothing known would broadcast as if it replaced something. So when *no* reference
resolves, the message is stored in state ``held_unknown_reference`` with nothing
planned and nothing applied, with the finding ``ingest.reference.held``; it is visible
in ``GET /api/v1/alerts/{id}`` and ``tocsin pending``. It stays held: an original that
arrives later does not release it (send the Update or Cancel again, as a new message,
once the original is known). An authority whose policy says
``forward_unknown_references: true`` (a regional relay for alerts first announced
through another system) has them planned by routing as before, with the warning
``ingest.reference.unknown``. A message some of whose references resolve is sent: the
known originals' channels get it.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.cap.findings import Finding, warning
from router.cap.model import MsgType

HELD_CODE = "ingest.reference.held"
_FOLLOW_UPS = (MsgType.UPDATE, MsgType.CANCEL)


def held_for_unknown_references(msg_type: MsgType, resolved: Sequence[str | None], *,
                                forward_unknown: bool) -> bool:
    """True when an Update or Cancel references only alerts this store has never seen
    (``resolved``: the alert id each reference resolved to, None for unknown)."""
    return (msg_type in _FOLLOW_UPS and bool(resolved) and not forward_unknown
            and all(target is None for target in resolved))


def held_finding(msg_type: MsgType) -> Finding:
    return warning(HELD_CODE, "/alert/references",
                   f"no alert this {msg_type.value} references is in this store: it is held "
                   "(state held_unknown_reference) and sent nowhere, so nobody is told of a "
                   "change to a warning they never had; the sender's policy "
                   "forward_unknown_references: true forwards such messages")
