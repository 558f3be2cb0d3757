"""Trust: is an incoming CAP alert signed by someone we trust, what did they sign,
and the tamper-evident record of what was done.

Signatures -- stage: between validation and planning (``router.ingest`` calls it; it imports
``router.profiles`` and ``router.cap`` only). ``read_alert`` is the one entry
point: hardened parse, XML-DSig verification, then validation of the *verified*
tree, so the model of a signed alert is built only from what the signature covers.
``TrustStore`` is loaded once at start-up from ``--trust-store`` / ``trust_store``.

The audit chain's pure part lives in ``router.audit`` (below the store, which
computes each entry's hash inside the transaction that appends it).
"""

from router.trust.intake import CheckedAlert, read_alert
from router.trust.store import SenderBindings, TrustStore, TrustStoreError, load_trust_store
from router.trust.verdict import SignatureState, SignatureVerdict, TimeMode
from router.trust.verify import SignatureChecker

__all__ = [
    "CheckedAlert",
    "SenderBindings",
    "SignatureChecker",
    "SignatureState",
    "SignatureVerdict",
    "TimeMode",
    "TrustStore",
    "TrustStoreError",
    "load_trust_store",
    "read_alert",
]
