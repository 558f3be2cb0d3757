"""The ``AudienceStore`` protocol: who can be reached, and what each of them was sent.

Stage: the audience layer, above the alert store. The alert store keeps alerts and
their deliveries; this keeps the people behind a delivery: SMS subscribers and their
home areas, wallet push subscriptions, each recipient's outcome per delivery, and the
message ledger (network message id -> recipient) that late receipts are matched in.

The dispatcher asks it for a delivery's ``Audience`` and hands that to the channel;
the channel contract types (``router.channel.Audience``, ``MessageLedger``) are what
the adapters see, so an audience store can change without touching a channel.

An implementation shares the alert store's database (``router.storage.open_stores``
makes both): a fan-out batch is claimed in the same transaction that reads the
alert's state, so a Cancel stops the stream at the next batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from router.audience.records import NewWalletSubscription, Subscriber, SubscriptionSaved
from router.cap import Alert
from router.channel import Audience, MessageLedger
from router.store.records import ClaimedDelivery


class AudienceStore(Protocol):
    def audience(self, kind: str, delivery: ClaimedDelivery, alert: Alert) -> Audience:
        """The recipients of address ``kind`` that ``delivery`` goes to (streamed):
        ``msisdn`` subscribers whose home area the alert reaches (and, for an Update or
        Cancel, those the earlier alert reached), or every ``wallet[:CC]`` subscription."""

    def message_ledger(self, channel: str) -> MessageLedger:
        """Network message id -> recipient for ``channel``, filled by its audiences."""

    async def recipient_counts(self, delivery_keys: Sequence[str]
                               ) -> dict[str, dict[str, int]]:
        """Per-recipient outcome counts of the deliveries (by idempotency key) that have
        recipients; a delivery without any is left out."""

    async def import_subscribers(self, subscribers: Sequence[Subscriber]) -> int:
        """Insert or replace (by kind and address) one batch of subscribers, atomically."""

    async def subscriber_count(self, kind: str) -> int: ...

    async def save_wallet_subscription(self, new: NewWalletSubscription) -> SubscriptionSaved:
        """Store a push subscription; the same endpoint and keys again is the same one,
        the same endpoint with other keys is refused (``id`` None)."""

    async def renew_wallet_subscription(self, subscription_id: str,
                                        new: NewWalletSubscription) -> bool:
        """New keys for the subscription with this id and endpoint; False if none."""

    async def delete_wallet_subscription(self, subscription_id: str) -> bool:
        """Remove a subscription; False when there was none with that id."""

    async def count_wallet_subscriptions(self) -> int: ...
