"""``AudienceStore`` on the SQLite database the alert store opened.

Stage: the audience layer. One SQLite file holds both stores' tables, and every write
goes through the alert store's single writer thread: audience writes share its group
commit, and a fan-out batch is claimed in the same transaction that reads the alert's
lifecycle state (so a Cancel stops the stream at once, and no write of one store can
commit without the other seeing it). The schema of both is migrated together
(``router.store.migrations``): one file, one version number.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.audience import wallet
from router.audience.areas import AlertArea
from router.audience.messages import SqliteMessageLedger
from router.audience.records import NewWalletSubscription, Subscriber, SubscriptionSaved
from router.audience.subscribers import SubscriberAudience, outcome_counts, upsert_subscribers
from router.cap import Alert
from router.cap.model import MsgType
from router.channel import Audience, MessageLedger
from router.store.records import ClaimedDelivery
from router.store.sql import Connection
from router.store.sqlite import SqlStore


class SqlAudienceStore:
    """The audience in the database of one ``SqlStore`` (SQLite or PostgreSQL); opened
    and closed with it: its writes share the alert store's transactions."""

    def __init__(self, database: SqlStore) -> None:
        self._read, self._write = database.run_read, database.run_write

    def audience(self, kind: str, delivery: ClaimedDelivery, alert: Alert) -> Audience:
        """The recipients of ``delivery`` among subscribers of address ``kind``.

        ``wallet`` (``wallet:CC``): every wallet subscription (of that country) -- the
        device decides whether it is inside the area, so the store holds no location.
        Any other kind (``msisdn``): the subscriber registry, those the earlier alert
        reached (Update, Cancel) and those whose home area the alert reaches (not Cancel).
        """
        if kind.partition(":")[0] == wallet.WALLET:
            return wallet.WalletAudience(self._read, self._write, kind=kind,
                                         delivery_key=delivery.idempotency_key,
                                         alert_id=delivery.alert_id, fence=delivery.fence)
        prior = delivery.replaces.idempotency_key if delivery.replaces else None
        area = None if alert.msg_type is MsgType.CANCEL else AlertArea(alert)
        return SubscriberAudience(self._read, self._write, kind=kind,
                                  delivery_key=delivery.idempotency_key,
                                  alert_id=delivery.alert_id, area=area, prior_key=prior,
                                  channel=delivery.channel, fence=delivery.fence)

    def message_ledger(self, channel: str) -> MessageLedger:
        """Where ``channel``'s late receipts find their recipients (``messages``)."""
        return SqliteMessageLedger(self._write, channel)

    async def recipient_counts(self, delivery_keys: Sequence[str]
                               ) -> dict[str, dict[str, int]]:
        def read(conn: Connection) -> dict[str, dict[str, int]]:
            counts = {key: outcome_counts(conn, key) for key in delivery_keys}
            return {key: found for key, found in counts.items() if len(found) > 1}
        return await self._read(read) if delivery_keys else {}

    async def import_subscribers(self, subscribers: Sequence[Subscriber]) -> int:
        return await self._write(lambda conn: upsert_subscribers(conn, subscribers))

    async def subscriber_count(self, kind: str) -> int:
        return int(await self._read(lambda conn: conn.execute(
            "SELECT count(*) FROM subscribers WHERE kind = ?", (kind,)).fetchone()[0]))

    async def save_wallet_subscription(self, new: NewWalletSubscription) -> SubscriptionSaved:
        return await self._write(lambda conn: wallet.save_subscription(conn, new))

    async def renew_wallet_subscription(self, subscription_id: str,
                                        new: NewWalletSubscription) -> bool:
        return await self._write(
            lambda conn: wallet.renew_subscription(conn, subscription_id, new))

    async def delete_wallet_subscription(self, subscription_id: str) -> bool:
        return await self._write(lambda conn: wallet.delete_subscription(conn, subscription_id))

    async def count_wallet_subscriptions(self) -> int:
        return await self._read(wallet.count_subscriptions)


SqliteAudienceStore = SqlAudienceStore
"""The name from before the same SQL served PostgreSQL too."""
