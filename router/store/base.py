"""The ``Store`` protocol: what the service needs from durable storage.

Stage: the store layer. The embedded default is SQLite (``router.store.sqlite``);
a PostgreSQL store for several router instances implements the same protocol.

The one promise every implementation keeps: when ``accept`` returns
``CREATED``, the alert, its raw bytes and its whole delivery plan are durable
(committed and synced), so the HTTP 202 that follows is never a lie.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from router.cap import Alert, Finding
from router.channel import Audience
from router.store.records import (
    AcceptResult,
    AlertPage,
    AlertRecord,
    AlertState,
    AssetRecord,
    AttemptResult,
    ClaimedDelivery,
    DeliveryState,
    NewAlert,
    Principal,
    ReplanResult,
    SpeechJob,
    StoredVariants,
)

if TYPE_CHECKING:
    from router.store.wallet import NewWalletSubscription, SubscriptionSaved


class Store(Protocol):
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

    async def raw_cap(self, alert_id: str) -> bytes | None:
        """The document exactly as received."""

    async def list(self, *, state: AlertState | None = None, since: datetime | None = None,
                   cursor: str | None = None, limit: int = 50) -> AlertPage: ...

    async def ping(self) -> bool:
        """True when both reads and writes are possible."""

    async def claim_due(self, now: datetime, limit: int) -> builtins.list[ClaimedDelivery]:
        """Take up to ``limit`` due pending deliveries; they become ``sending``."""

    async def record_attempt(self, result: AttemptResult) -> DeliveryState:
        """Store one attempt and the delivery's next state; returns the state stored."""

    async def wait_for_channel(self, alert_id: str, channel: str, until: datetime,
                               why: str) -> DeliveryState:
        """A claimed delivery waits, unsent and without an attempt, until ``until``."""

    async def replan(self, alert_id: str, channel: str, by: Principal,
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

    async def save_wallet_subscription(self, new: NewWalletSubscription) -> SubscriptionSaved:
        """Store a push subscription, or update the one with the same endpoint."""

    async def delete_wallet_subscription(self, subscription_id: str) -> bool:
        """Remove a subscription; False when there was none with that id."""

    async def count_wallet_subscriptions(self) -> int: ...

    def audience(self, kind: str, delivery: ClaimedDelivery, alert: Alert) -> Audience:
        """The subscribers of address ``kind`` that ``delivery`` goes to (streamed)."""
