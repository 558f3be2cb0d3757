"""Trust: is an incoming CAP alert signed by someone we trust and what did they sign;
who may say what (authority policy, roles, scope); and the second pair of eyes.

Stage: between validation and planning (``router.ingest`` calls it; it imports
``router.profiles``, ``router.cap`` and ``router.settings`` only, never aiohttp or the
store). ``read_alert`` is the one entry point for signatures: hardened parse, XML-DSig
verification, then validation of the *verified* tree, so the model of a signed alert
is built only from what the signature covers. ``TrustStore`` is loaded once at
start-up from ``--trust-store`` / ``trust_store``. Policies are pure checks over the
parsed alert; geometry files are read once, when a policy is compiled at start-up.

The audit chain's pure part lives in ``router.audit`` (below the store, which
computes each entry's hash inside the transaction that appends it).
"""

from router.trust.approval import ApprovalPolicy, approval_policy
from router.trust.area import AreaCheck, AreaPolicyError, load_area
from router.trust.intake import CheckedAlert, read_alert
from router.trust.policy import AuthorityPolicy, PolicyConfigError, compile_policies
from router.trust.principal import Principal, Role, parse_roles
from router.trust.scope import confidential, scope_route_problems
from router.trust.store import SenderBindings, TrustStore, TrustStoreError, load_trust_store
from router.trust.verdict import SignatureState, SignatureVerdict, TimeMode
from router.trust.verify import SignatureChecker

__all__ = [
    "ApprovalPolicy",
    "AreaCheck",
    "AreaPolicyError",
    "AuthorityPolicy",
    "CheckedAlert",
    "PolicyConfigError",
    "Principal",
    "Role",
    "SenderBindings",
    "SignatureChecker",
    "SignatureState",
    "SignatureVerdict",
    "TimeMode",
    "TrustStore",
    "TrustStoreError",
    "approval_policy",
    "compile_policies",
    "confidential",
    "load_area",
    "load_trust_store",
    "parse_roles",
    "read_alert",
    "scope_route_problems",
]
