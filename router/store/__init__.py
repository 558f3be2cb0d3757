"""Durable storage of the alert's life: alerts, their raw bytes, plans, deliveries,
attempts, references, asset metadata, the audit chain, keys and approvals.

Stage: below the audience, routing and ingest, above planning and the CAP core.
Knows nothing of HTTP or of the channel contract. ``AlertStore`` is the protocol.
"""

from router.store.backlog import ChannelBacklog, StoreBacklog
from router.store.base import AlertStore, AnnouncesWork, Store
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
    SpeechBacklog,
    SpeechJob,
    StoredKey,
    StoredVariants,
)
from router.store.sqlite import SqliteStore, decode_cursor

__all__ = [
    "AcceptOutcome",
    "AcceptResult",
    "AlertPage",
    "AlertRecord",
    "AlertState",
    "AlertStore",
    "AnnouncesWork",
    "ApprovalRecord",
    "AssetRecord",
    "AttemptRecord",
    "AttemptResult",
    "ChannelBacklog",
    "ClaimedDelivery",
    "DecisionOutcome",
    "DeliveryRecord",
    "DeliveryState",
    "HoldForApproval",
    "NewAlert",
    "PlannedDelivery",
    "PriorDelivery",
    "ReferenceRecord",
    "ReferencedAlert",
    "ReplanOutcome",
    "ReplanResult",
    "Requester",
    "SpeechBacklog",
    "SpeechJob",
    "SqliteStore",
    "Store",
    "StoreBacklog",
    "StoredKey",
    "StoredVariants",
    "decode_cursor",
]
