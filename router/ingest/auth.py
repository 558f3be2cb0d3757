"""API keys: ``Authorization: Bearer <key>``, each key bound to an authority and the
CAP ``sender`` values (fnmatch patterns) that authority may use.

Stage: ingest (HTTP). Keys are compared by their SHA-256 (see
``router.settings.hash_api_key``), looked up in a dict, so the time taken does
not depend on how much of a wrong key matched.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from router.ingest.problems import ProblemError
from router.settings import Authority, hash_api_key


class Authenticator:
    def __init__(self, authorities: list[Authority]) -> None:
        self._by_hash: dict[str, Authority] = {}
        for authority in authorities:
            for key_hash in authority.key_hashes:
                self._by_hash[key_hash] = authority

    def __len__(self) -> int:
        return len(self._by_hash)

    def authenticate(self, header: str | None) -> Authority:
        """The authority holding the key, or 401."""
        challenge = {"WWW-Authenticate": 'Bearer realm="tocsin"'}
        if not header:
            raise ProblemError(401, "auth.missing-key", "Authentication required",
                               "send an API key as 'Authorization: Bearer <key>'",
                               headers=challenge)
        scheme, _, key = header.partition(" ")
        authority = self._by_hash.get(hash_api_key(key.strip())) if scheme.lower() == "bearer" \
            else None
        if authority is None:
            raise ProblemError(401, "auth.invalid-key", "Invalid API key",
                               "the API key is not known; check for typos or a revoked key",
                               headers=challenge)
        return authority

    @staticmethod
    def key_id(header: str | None) -> str:
        """Which key a request used, for the record: ``sha256:`` and the first 12 hex
        digits of its hash (names the key among the authority's, cannot be used as one)."""
        key = (header or "").partition(" ")[2].strip()
        return hash_api_key(key)[:len("sha256:") + 12]

    @staticmethod
    def authorise_sender(authority: Authority, sender: str) -> None:
        """403 unless the authority may issue alerts as this CAP sender."""
        if not any(fnmatchcase(sender, pattern) for pattern in authority.senders):
            raise ProblemError(
                403, "auth.sender-not-allowed", "Sender not allowed",
                f"authority {authority.name!r} may not issue alerts as sender {sender!r}; "
                f"its senders are {', '.join(authority.senders)}")
