"""Trust: who may say what (authority policy, roles, scope) and the second pair of eyes.

Stage: pure policy logic between ingest and the CAP core. It reads settings models
and the parsed alert, and returns findings or decisions; it does no I/O at check
time (geometry files are read once, when a policy is compiled at start-up) and
never imports aiohttp or the store.
"""

from router.trust.approval import ApprovalPolicy, approval_policy
from router.trust.area import AreaCheck, AreaPolicyError, load_area
from router.trust.policy import AuthorityPolicy, PolicyConfigError, compile_policies
from router.trust.principal import Principal, Role, parse_roles
from router.trust.scope import confidential, scope_route_problems

__all__ = [
    "ApprovalPolicy",
    "AreaCheck",
    "AreaPolicyError",
    "AuthorityPolicy",
    "PolicyConfigError",
    "Principal",
    "Role",
    "approval_policy",
    "compile_policies",
    "confidential",
    "load_area",
    "parse_roles",
    "scope_route_problems",
]
