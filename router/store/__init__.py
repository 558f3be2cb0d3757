"""Durable storage of alerts, their raw bytes and their delivery plans.

Stage: below routing and ingest, above the CAP core. Knows nothing of HTTP.
"""

from router.store.base import Store
from router.store.records import (
    AcceptOutcome,
    AcceptResult,
    AlertPage,
    AlertRecord,
    AlertState,
    AssetRecord,
    AttemptRecord,
    AttemptResult,
    ClaimedDelivery,
    DeliveryRecord,
    DeliveryState,
    NewAlert,
    PlannedDelivery,
    Principal,
    PriorDelivery,
    ReferenceRecord,
    ReplanOutcome,
    ReplanResult,
    SpeechJob,
    StoredVariants,
)
from router.store.sqlite import SqliteStore, decode_cursor
from router.store.subscribers import Subscriber, SubscriberAudience
from router.store.wallet import NewWalletSubscription, SubscriptionSaved

__all__ = [
    "AcceptOutcome",
    "AcceptResult",
    "AlertPage",
    "AlertRecord",
    "AlertState",
    "AssetRecord",
    "AttemptRecord",
    "AttemptResult",
    "ClaimedDelivery",
    "DeliveryRecord",
    "DeliveryState",
    "NewAlert",
    "NewWalletSubscription",
    "PlannedDelivery",
    "Principal",
    "PriorDelivery",
    "ReferenceRecord",
    "ReplanOutcome",
    "ReplanResult",
    "SpeechJob",
    "SqliteStore",
    "Store",
    "StoredVariants",
    "Subscriber",
    "SubscriberAudience",
    "SubscriptionSaved",
    "decode_cursor",
]
