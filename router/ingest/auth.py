"""API keys: ``Authorization: Bearer <key>`` -> the principal holding it.

Stage: ingest (HTTP). Keys are compared by their SHA-256 (see
``router.settings.hash_api_key``), looked up in a dict (keys from the settings
file) or by an indexed read of the store (keys made with ``tocsin keys new
--authority``), so the time taken does not depend on how much of a wrong key
matched, and a key revoked in the store is refused on its very next request.

Problem bodies never name an authority or its configuration: a caller learns that
it may not do something, not who may.
"""

from __future__ import annotations

import structlog

from router.http.problems import ProblemError
from router.settings import DEFAULT_ROLES, Authority, hash_api_key
from router.store import Store
from router.trust import AuthorityPolicy, Principal, Role, parse_roles
from router.trust.principal import UnknownRoleError

log = structlog.get_logger("tocsin.auth")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tocsin"'}


def settings_principals(authority: Authority) -> dict[str, Principal]:
    """key hash -> principal, for the keys an authority has in the settings file."""
    found = {h: Principal(f"{authority.name}/key-{h.removeprefix('sha256:')[:8]}",
                          authority.name, parse_roles(list(DEFAULT_ROLES)))
             for h in authority.key_hashes}
    found.update({k.hash: Principal(f"{authority.name}/{k.name}", authority.name,
                                    parse_roles(k.roles)) for k in authority.keys})
    return found


def _invalid_key() -> ProblemError:
    return ProblemError(401, "auth.invalid-key", "Invalid API key",
                        "the API key is not known; check for typos or a revoked key",
                        headers=_CHALLENGE)


class Authenticator:
    def __init__(self, authorities: list[Authority], policies: dict[str, AuthorityPolicy],
                 store: Store | None = None) -> None:
        self._by_hash: dict[str, Principal] = {}
        for authority in authorities:
            self._by_hash.update(settings_principals(authority))
        self._policies = policies
        self._store = store

    def __len__(self) -> int:
        return len(self._by_hash)

    async def authenticate(self, header: str | None) -> Principal:
        """The principal holding the key, or 401."""
        if not header:
            raise ProblemError(401, "auth.missing-key", "Authentication required",
                               "send an API key as 'Authorization: Bearer <key>'",
                               headers=_CHALLENGE)
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise _invalid_key()
        key_hash = hash_api_key(key.strip())
        principal = self._by_hash.get(key_hash) or await self._stored(key_hash)
        if principal is None:
            raise _invalid_key()
        structlog.contextvars.bind_contextvars(authority=principal.authority,
                                               principal=principal.id)
        return principal

    async def _stored(self, key_hash: str) -> Principal | None:
        if self._store is None:
            return None
        stored = await self._store.key_by_hash(key_hash)
        if stored is None or stored.revoked_at is not None:
            return None
        if stored.authority not in self._policies:
            log.warning("auth.key_for_unknown_authority", key_id=stored.id,
                        detail="the key's authority is not configured; refused")
            return None
        try:
            roles = parse_roles(list(stored.roles))
        except UnknownRoleError as exc:
            raise ProblemError(403, "auth.unknown-role", "Key with unknown roles",
                               f"{exc}; revoke the key and make a new one with "
                               "`tocsin keys new`") from exc
        return Principal(f"{stored.authority}/{stored.id}", stored.authority, roles)

    def policy(self, principal: Principal) -> AuthorityPolicy:
        return self._policies[principal.authority]

    @staticmethod
    def require(principal: Principal, role: Role) -> None:
        """403 ``auth.role`` unless the principal holds ``role``."""
        if not principal.has(role):
            raise ProblemError(403, "auth.role", "Role required",
                               f"this key does not hold the {role.value!r} role")

    @staticmethod
    def key_id(header: str | None) -> str:
        """Which key a request used, for the record: ``sha256:`` and the first 12 hex
        digits of its hash (names the key among the authority's, cannot be used as one)."""
        key = (header or "").partition(" ")[2].strip()
        return hash_api_key(key)[:len("sha256:") + 12]

    def authorise_sender(self, principal: Principal, sender: str) -> None:
        """403 unless the principal's authority may issue alerts as this CAP sender."""
        if not self.policy(principal).sender_allowed(sender):
            raise ProblemError(403, "auth.sender-not-allowed", "Sender not allowed",
                               f"this key may not issue alerts as sender {sender!r}")
