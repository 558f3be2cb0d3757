"""Cell broadcast (EU-Alert / NL-Alert): 3GPP TS 23.041 pages, Message Identifiers
per deployment, and a client for a Cell Broadcast Centre (osmo-cbc's ECBE API)."""

from channels.cell_broadcast.channel import CellBroadcastChannel

__all__ = ["CellBroadcastChannel"]
