"""What an alert's acceptance changes, as pure rules: its deadline, the effect of its
references, and the follow-up deliveries an Update or Cancel needs.

Stage: the pure middle, below the store. A store calls these with the rows it read
inside the accepting transaction and persists what they return, so every store
(SQLite, PostgreSQL) applies the same rules and none of them decides them.
"""

from router.planning.rules import (
    PlannedDelivery,
    ReferenceEffect,
    delivery_deadline,
    follow_up_deliveries,
    reference_effect,
)

__all__ = [
    "PlannedDelivery",
    "ReferenceEffect",
    "delivery_deadline",
    "follow_up_deliveries",
    "reference_effect",
]
