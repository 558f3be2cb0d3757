"""The ``AlertStore`` protocol: the durable life of an alert.

Stage: the store layer. It keeps alerts and their raw bytes, delivery plans,
deliveries and attempts, references, the metadata of assets made for them, the
audit chain, API keys and approvals -- and nothing of who is reached
(``router.audience``) or of the channel contract (it imports no ``router.channel``).
It decides no rule either: deadlines and the follow-ups of an Update or Cancel come
from ``router.planning``, called with the rows read inside the accepting transaction.

The embedded default is SQLite (``router.store.sqlite``); ``router.storage.open_stores``
picks the implementation from a store URL.

The one promise every implementation keeps: when ``accept`` returns
``CREATED``, the alert, its raw bytes and its whole delivery plan are durable
(committed and synced), so the HTTP 202 that follows is never a lie.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from router.cap import Alert, Finding
from router.store.backlog import StoreBacklog
from router.store.records import (
    AcceptResult,
    AlertPage,
    AlertRecord,
    AlertState,
    AssetRecord,
    AttemptResult,
    ClaimedDelivery,
    DecisionOutcome,
    DeliveryState,
    NewAlert,
    ReferencedAlert,
    ReplanResult,
    Requester,
    SpeechBacklog,
    SpeechJob,
    StoredKey,
    StoredVariants,
)

if TYPE_CHECKING:
    from router.audit.chain import AuditEvent, Head
    from router.audit.chain import Principal as AuditPrincipal
    from router.store.audit import AuditPage


class AlertStore(Protocol):
    async def open(self) -> None:
        """Create or migrate the schema and start background writers."""

    async def close(self) -> None:
        """Finish every write already submitted, then release resources."""

    async def accept(self, new: NewAlert) -> AcceptResult:
        """Store an alert with its plan atomically, or say it is a duplicate/conflict.

        Resolves ``<references>``: an Update supersedes the referenced alerts and
        a Cancel cancels them, closing their pending deliveries, in the same
        transaction. Unknown references come back as warnings.
        """

    async def get(self, alert_id: str) -> AlertRecord | None: ...

    async def envelope(self, alert_id: str) -> bytes | None:
        """The EDXL-DE envelope the alert came in (``NewAlert.envelope``), else None."""

    async def raw_cap(self, alert_id: str) -> bytes | None:
        """The document exactly as received."""

    async def list(self, *, state: AlertState | None = None, since: datetime | None = None,
                   cursor: str | None = None, limit: int = 50,
                   authorities: Collection[str] | None = None,
                   authority: str | None = None, event: str | None = None,
                   until: datetime | None = None) -> AlertPage: ...

    async def approve(self, alert_id: str, principal: str) -> DecisionOutcome:
        """A held alert approved by ``principal``: its plan stored, its references applied."""

    async def reject(self, alert_id: str, principal: str, reason: str) -> DecisionOutcome:
        """A held alert refused by ``principal``; it is never delivered."""

    async def expire_unapproved(self) -> builtins.list[str]:
        """Held alerts past their approval window become ``expired_unapproved``."""

    async def referenced(self, alert: Alert) -> builtins.list[ReferencedAlert]:
        """The alerts named in ``alert``'s references that this store holds."""

    async def key_by_hash(self, key_hash: str) -> StoredKey | None:
        """A key made with ``tocsin keys new --authority`` (revoked ones too)."""

    async def ping(self) -> bool:
        """True when both reads and writes are possible."""

    async def claim_due(self, now: datetime, limit: int, *,
                        skip_channels: Collection[str] = ()) -> builtins.list[ClaimedDelivery]:
        """Take up to ``limit`` due pending deliveries; they become ``sending``. None of
        ``skip_channels`` is taken: the dispatcher names the channels it has no room for."""

    async def record_attempt(self, result: AttemptResult) -> DeliveryState:
        """Store one attempt and the delivery's next state; returns the state stored."""

    async def wait_for_channel(self, alert_id: str, channel: str, until: datetime,
                               why: str, *, fence: int | None = None) -> DeliveryState:
        """A claimed delivery waits, unsent and without an attempt, until ``until``."""

    async def replan(self, alert_id: str, channel: str, by: Requester,
                     now: datetime) -> ReplanResult:
        """A failed or expired delivery of an alert still in force becomes pending again,
        recording who asked; any other case changes nothing and says why."""

    async def release_waiting(self, channel: str, now: datetime) -> int:
        """Make ``channel``'s waiting deliveries due at ``now``; returns how many."""

    async def settle_fallbacks(self, alert_id: str, channel: str, *,
                               needed: bool) -> builtins.list[str]:
        """Wake (``needed``) or skip the standby fallbacks of one ended delivery."""

    async def release_in_flight(self) -> int:
        """At start-up: deliveries left ``sending`` by a crash become due again."""

    async def delivery_backlog(self) -> StoreBacklog:
        """The deliveries not yet ended, by channel and state, with each channel's oldest
        still to go out (``router.store.backlog``): one cheap grouped read."""

    async def variants(self, alert_id: str) -> StoredVariants | None:
        """The rendered variants stored with the alert, or None."""

    async def assets(self, alert_id: str) -> builtins.list[AssetRecord]:
        """The files made for the alert (spoken audio), oldest first."""

    async def speech_due(self, limit: int) -> builtins.list[SpeechJob]:
        """Accepted alerts whose spoken variants are still to be made."""

    async def record_speech(self, alert_id: str, assets: builtins.list[AssetRecord],
                            findings: builtins.list[Finding], *, state: str) -> None:
        """Store the audio made for an alert, add its findings to the alert's, and set
        its speech state (``done`` or ``failed``) in one transaction."""

    async def speech_backlog(self) -> SpeechBacklog:
        """Accepted alerts still waiting for speech, and the oldest one's acceptance."""

    async def expired_assets(self, before: datetime, limit: int) -> builtins.list[AssetRecord]:
        """Up to ``limit`` asset rows whose alert expired (``expires_at``) before ``before``."""

    async def prune_assets(self, alert_ids: builtins.list[str], before: datetime) -> int:
        """Delete the asset rows of ``alert_ids`` expired before ``before``; an alert left
        with none has ``speech_state`` ``pruned``. Returns the rows deleted."""

    async def append_audit(self, events: builtins.list[AuditEvent]) -> None:
        """Append audit entries in a transaction of their own (acts that change nothing
        else). A change of the store appends its entries inside its own job instead."""

    async def audit_head(self) -> Head | None:
        """The last entry's sequence number and hash, as the store keeps them."""

    async def audit_page(self, *, after: int = 0, since: datetime | None = None,
                         principal: str | None = None, limit: int = 100,
                         subject: str | None = None) -> AuditPage:
        """Audit entries after sequence number ``after``, oldest first; ``subject``: only
        those about it (an alert id, a key id)."""

    async def add_key(self, key: StoredKey, by: AuditPrincipal = ...) -> None:
        """Store a key's hash and its ``key.created`` audit entry in one transaction."""

    async def revoke_key(self, key_id: str, by: AuditPrincipal = ...) -> bool:
        """Revoke a live key and append ``key.revoked`` in one transaction; False if
        there was no live key with that id."""

    async def keys(self) -> builtins.list[StoredKey]:
        """Every key made with ``tocsin keys new --authority``, revoked ones too."""


@runtime_checkable
class AnnouncesWork(Protocol):
    """A store shared by several nodes that tells each node when any of them committed
    work that is due now (PostgreSQL ``LISTEN``/``NOTIFY``), so an idle dispatcher wakes
    within milliseconds rather than at its next poll."""

    def watch_work(self, callback: Callable[[], None]) -> None: ...


Store = AlertStore
"""The name the alert store protocol had before the audience moved out of it."""
