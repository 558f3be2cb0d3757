"""The one place that turns a store URL into stores: ``open_stores(url, data_dir)``.

Stage: just below the composition root (``router.app``) and the CLI, which use it;
everything else is typed against the protocols (``router.store.AlertStore``,
``router.audience.AudienceStore``) and never names an implementation.

Store URLs:

- ``None`` or empty: SQLite in the data directory, ``<data_dir>/tocsin.sqlite3`` (the
  embedded default; ``make run`` needs nothing else).
- ``sqlite:///absolute/path.sqlite3`` or ``sqlite:relative/path.sqlite3``: SQLite at
  that path (a relative path is taken from the data directory, not the working
  directory, so that a service started from elsewhere finds the same file).

- ``postgresql://user:password@host:port/database`` (or ``postgres://``): the
  PostgreSQL store (``router.store.postgres``) that several nodes share. Every libpq
  parameter the URL can carry works (``?sslmode=verify-full``, ``host=/run/postgresql``).

Any other scheme is refused with a ``ConfigurationError`` naming the schemes known,
before anything is opened.

``Stores.open()`` opens what the implementation needs (for SQLite: one database file
shared by both stores, one writer thread) and ``close()`` closes it after every write
already submitted; nothing is opened by ``open_stores`` itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from router.audience import AudienceStore
from router.audience.sqlite import SqlAudienceStore
from router.channel_state import ChannelStateStore
from router.channel_state.sqlite import SqlChannelStateStore
from router.errors import ConfigurationError
from router.store import AlertStore, SqliteStore
from router.store.drafts import DraftStore, SqlDrafts
from router.store.leases import DEFAULT_LEASE_S

SQLITE_FILE = "tocsin.sqlite3"
SCHEMES = ("sqlite", "postgresql", "postgres")


@dataclass(frozen=True)
class Stores:
    """The stores of one deployment, and how to open and close them together."""

    alerts: AlertStore
    audience: AudienceStore
    channel_state: ChannelStateStore
    drafts: DraftStore
    """The console's saved compose forms, on the alert store's database."""
    url: str
    """The store URL as the operator would recognise it (no password: logged)."""
    _open: Callable[[], Awaitable[None]]
    _close: Callable[[], Awaitable[None]]

    async def open(self) -> None:
        """Create or migrate the schema and start the writers."""
        await self._open()

    async def close(self) -> None:
        """Finish every write already submitted, then release everything."""
        await self._close()


def sqlite_path(url: str | None, data_dir: Path) -> Path:
    """The SQLite file a store URL names (``None``: the data directory's)."""
    if not url:
        return data_dir / SQLITE_FILE
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise ConfigurationError([_unknown(url)])
    if parts.netloc:
        raise ConfigurationError([f"store {url!r}: a sqlite URL names a file, not a host "
                                  "(sqlite:///absolute/path or sqlite:relative/path)"])
    if not parts.path or parts.path.endswith("/"):
        raise ConfigurationError([f"store {url!r}: no database file named"])
    path = Path(parts.path)
    return path if path.is_absolute() else data_dir / path


def _unknown(url: str) -> str:
    scheme = urlsplit(url).scheme or "(none)"
    return (f"store {url.rsplit('@', maxsplit=1)[-1]!r}: unknown scheme {scheme!r} "
            f"(known: {', '.join(SCHEMES)}; or leave it unset for the data directory)")


def open_stores(url: str | None, data_dir: Path, *, max_batch: int = 256,
                lease_s: float = DEFAULT_LEASE_S, open_timeout_s: float = 30.0) -> Stores:
    """The stores for ``url`` (see the module docstring); not yet opened.

    ``max_batch``: the most writes one commit takes (group commit). ``lease_s``: how long
    a claim holds on a shared store (``router.store.leases``)."""
    if url and urlsplit(url).scheme not in SCHEMES:
        raise ConfigurationError([_unknown(url)])
    if url and urlsplit(url).scheme in {"postgresql", "postgres"}:
        return _postgres(url, max_batch, lease_s, open_timeout_s)
    path = sqlite_path(url, data_dir)
    alerts = SqliteStore(path, max_batch=max_batch)
    return Stores(alerts=alerts, audience=SqlAudienceStore(alerts),
                  channel_state=SqlChannelStateStore(alerts), drafts=SqlDrafts(alerts),
                  url=f"sqlite://{path}" if path.is_absolute() else f"sqlite:{path}",
                  _open=alerts.open, _close=alerts.close)


def _postgres(url: str, max_batch: int, lease_s: float, open_timeout_s: float) -> Stores:
    from router.store.postgres import PostgresStore  # noqa: PLC0415  (psycopg only when used)

    alerts = PostgresStore(url, max_batch=max_batch, lease_s=lease_s,
                           open_timeout_s=open_timeout_s)
    return Stores(alerts=alerts, audience=SqlAudienceStore(alerts),
                  channel_state=SqlChannelStateStore(alerts), drafts=SqlDrafts(alerts),
                  url=redacted(url),
                  _open=alerts.open, _close=alerts.close)


def redacted(url: str) -> str:
    """``url`` without its password, for logs and ``/readyz``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
