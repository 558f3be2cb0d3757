"""The PostgreSQL store: the alert store, audience and channel state of every node of
one deployment in one database (``router.storage.open_stores`` with a
``postgresql://`` URL). See ``router.store.postgres.store``."""

from router.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
