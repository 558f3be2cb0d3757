"""Durable per-channel key -> value state with compare-and-set (``router.channel.ChannelState``).

Stage: above the alert store, whose database it shares (one file and one writer on
SQLite). ``router.storage.open_stores`` makes it; ``router.app`` hands each channel
instance that keeps state (``KeepsChannelState``) its own area, named by the instance.
"""

from typing import Protocol

from router.channel import ChannelState


class ChannelStateStore(Protocol):
    def for_channel(self, channel: str) -> ChannelState:
        """The state area of channel instance ``channel`` (made on first write)."""


__all__ = ["ChannelStateStore"]
