"""Delivery: the dispatcher that moves planned deliveries through channel adapters.

Stage: above the store and the channel contract; only the app builds it.
"""

from router.delivery.breaker import Breaker, BreakerState
from router.delivery.dispatcher import Dispatcher, DispatchSettings

__all__ = ["Breaker", "BreakerState", "DispatchSettings", "Dispatcher"]
