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
    ApprovalRecord,
    AssetRecord,
    AttemptRecord,
    AttemptResult,
    ClaimedDelivery,
    DecisionOutcome,
    DeliveryRecord,
    DeliveryState,
    HoldForApproval,
    NewAlert,
    PlannedDelivery,
    PriorDelivery,
    ReferencedAlert,
    ReferenceRecord,
    ReplanOutcome,
    ReplanResult,
    Requester,
    SpeechJob,
    StoredKey,
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
    "ApprovalRecord",
    "AssetRecord",
    "AttemptRecord",
    "AttemptResult",
    "ClaimedDelivery",
    "DecisionOutcome",
    "DeliveryRecord",
    "DeliveryState",
    "HoldForApproval",
    "NewAlert",
    "NewWalletSubscription",
    "PlannedDelivery",
    "PriorDelivery",
    "ReferenceRecord",
    "ReferencedAlert",
    "ReplanOutcome",
    "ReplanResult",
    "Requester",
    "SpeechJob",
    "SqliteStore",
    "Store",
    "StoredKey",
    "StoredVariants",
    "Subscriber",
    "SubscriberAudience",
    "SubscriptionSaved",
    "decode_cursor",
]
