"""Who can be reached: SMS subscribers and their home areas, CSV import, wallet push
subscriptions, each recipient's outcome, and the message ledger of late receipts.

Stage: above the alert store (it reads an alert's state when it claims a batch),
below delivery (the dispatcher hands a delivery's ``Audience`` to its channel).
``AudienceStore`` is the protocol; ``router.audience.sqlite`` the embedded default.
"""

from router.audience.base import AudienceStore
from router.audience.records import NewWalletSubscription, Subscriber, SubscriptionSaved

__all__ = ["AudienceStore", "NewWalletSubscription", "Subscriber", "SubscriptionSaved"]
