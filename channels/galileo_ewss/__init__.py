"""Galileo Emergency Warning Satellite Service: CAMF encoding, area -> ellipse, uplink.

``camf`` (the 122-bit codec), ``tables`` (value tables), ``geometry`` (polygons and
circles -> one ellipse), ``mapping`` (CAP -> CAMF), ``display`` (what a receiver
shows), ``transport`` (the uplink interface), ``channel`` (the adapter).
"""

from channels.galileo_ewss.channel import GalileoEwssChannel

__all__ = ["GalileoEwssChannel"]
