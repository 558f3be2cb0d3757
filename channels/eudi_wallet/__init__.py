"""The ``eudi_wallet`` channel: signed, end-to-end encrypted Web Push to wallet apps.

Modules, each with one job: ``keys`` (P-256 key files), ``jws`` (sign/verify),
``document`` (the signed alert document), ``area`` (polygon simplification),
``headers`` (TTL, Urgency, Topic), ``webpush`` (RFC 8291/8292), ``push`` (one
request and its outcome), ``channel`` (the adapter), ``device`` (the phone's side,
a reference for wallet teams and the mock push service).
"""

from channels.eudi_wallet.channel import WalletChannel

__all__ = ["WalletChannel"]
