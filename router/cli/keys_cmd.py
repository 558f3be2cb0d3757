"""``tocsin keys new | list | revoke | hash``: API keys (principals) and their hashes.

A key is printed once and never stored; only its ``sha256:`` hash is kept.

- ``tocsin keys new`` (no ``--authority``): print a key and its hash, for an
  authority's ``key_hashes`` (or ``keys``) in the settings file.
- ``tocsin keys new --authority A --roles submit,approve [--name N]``: store the key's
  hash in the data directory's store, for authority ``A`` of the settings, and print
  the key and its id. The running service sees it on the next request, no restart.
- ``tocsin keys list``: every key in the store and every key in the settings file,
  with authority, roles and whether revoked (never a key, only ids and hashes' prefixes).
- ``tocsin keys revoke ID``: refuse a stored key from its next request on (401).
  Keys in the settings file are revoked by deleting them there and restarting.

Exit status: 0 done, 1 nothing to revoke, 2 usage (an unknown authority or role).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from router.settings import ROLES, hash_api_key

if TYPE_CHECKING:
    from router.settings import Settings
    from router.store import AlertStore, StoredKey


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("keys", help="make, list and revoke API keys",
                                   description=__doc__)
    actions = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="generate a key; print it (and store its hash with "
                                         "--authority)")
    new.add_argument("--authority", help="store the key for this configured authority")
    new.add_argument("--roles", default="submit,cancel,read",
                     help=f"comma-separated, of {', '.join(ROLES)} (default submit,cancel,read)")
    new.add_argument("--name", help="who holds the key (default: its id)")
    _store_arguments(new)
    new.set_defaults(handler=_new)
    listed = actions.add_parser("list", help="keys in the store and in the settings")
    _store_arguments(listed)
    listed.set_defaults(handler=_list)
    revoke = actions.add_parser("revoke", help="revoke a stored key (401 from now on)")
    revoke.add_argument("key_id", metavar="ID")
    _store_arguments(revoke)
    revoke.set_defaults(handler=_revoke)
    hashed = actions.add_parser("hash", help="hash a key read from standard input")
    hashed.set_defaults(handler=_hash)


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="settings file (default $TOCSIN_CONFIG)")
    parser.add_argument("--data-dir", type=Path, help="where the SQLite store lives")


def _settings(args: argparse.Namespace) -> Settings:
    from router.settings import load_settings  # noqa: PLC0415

    return load_settings(args.config, data_dir=args.data_dir)


async def _with_store(settings: Settings, job: Any) -> Any:
    from router.storage import open_stores  # noqa: PLC0415

    stores = open_stores(settings.store, settings.data_dir)
    await stores.open()
    try:
        return await job(stores.alerts)
    finally:
        await stores.close()


def _new(args: argparse.Namespace) -> int:
    from router.trust import parse_roles  # noqa: PLC0415
    from router.trust.principal import UnknownRoleError  # noqa: PLC0415

    key = "tk-" + secrets.token_urlsafe(32)
    if args.authority is None:
        try:
            _audit_created(args, hash_api_key(key))
        except Exception as exc:  # any failure: no key without its record
            print("tocsin keys new: the audit trail could not record the key, none made: "
                  f"{exc}", file=sys.stderr)
            return 1
        print(f"key:  {key}\nhash: {hash_api_key(key)}")
        print("Give the key to the authority; put the hash in its key_hashes.",
              file=sys.stderr)
        return 0
    try:
        roles = parse_roles(args.roles)
    except UnknownRoleError as exc:
        print(f"tocsin keys new: {exc}", file=sys.stderr)
        return 2
    settings = _settings(args)
    known = {a.name for a in settings.authorities} | {"demo"}  # demo: `serve --demo`
    if args.authority not in known:
        print(f"tocsin keys new: no authority {args.authority!r} in the settings "
              f"(known: {', '.join(sorted(known)) or 'none'})", file=sys.stderr)
        return 2
    stored = _stored_key(args, key, sorted(roles))
    asyncio.run(_with_store(settings, lambda store: store.add_key(stored, _cli_principal())))
    print(f"key:  {key}\nid:   {stored.id}\nauthority: {stored.authority}\n"
          f"roles: {','.join(stored.roles)}")
    print("Give the key to its holder; it is not stored and cannot be shown again.",
          file=sys.stderr)
    return 0


def _stored_key(args: argparse.Namespace, key: str, roles: list[str]) -> StoredKey:
    from router.store import StoredKey  # noqa: PLC0415

    key_id = "k-" + secrets.token_hex(4)
    return StoredKey(id=key_id, authority=args.authority, name=args.name or key_id,
                     roles=tuple(roles), key_hash=hash_api_key(key),
                     created_at=datetime.now(UTC))


def _list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    stored: list[StoredKey] = asyncio.run(_with_store(settings, lambda store: store.keys()))
    print(f"{'ID':<40} {'AUTHORITY':<28} {'ROLES':<34} STATE")
    for key in stored:
        state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "live (store)"
        print(f"{key.authority + '/' + key.id:<40} {key.authority:<28} "
              f"{','.join(key.roles):<34} {state}")
    from router.ingest.auth import settings_principals  # noqa: PLC0415

    for authority in settings.authorities:
        for principal in settings_principals(authority).values():
            print(f"{principal.id:<40} {authority.name:<28} "
                  f"{','.join(sorted(principal.roles)):<34} live (settings)")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    settings = _settings(args)
    key_id = args.key_id.rpartition("/")[2]  # accept "authority/k-..." as listed
    by = _cli_principal()
    done = asyncio.run(_with_store(settings, lambda store: store.revoke_key(key_id, by)))
    if not done:
        print(f"tocsin keys revoke: no live key {args.key_id!r} in {settings.database_path} "
              "(settings-file keys are removed from the file)", file=sys.stderr)
        return 1
    print(f"revoked {key_id}")
    return 0


def _cli_principal() -> Any:
    """This command's user, as the audit trail names who acted on the host."""
    from router.audit.chain import Principal  # noqa: PLC0415

    return Principal(via="cli", actor=getpass.getuser())


def _audit_created(args: argparse.Namespace, key_hash: str) -> None:
    from router.audit import events as audit_events  # noqa: PLC0415
    from router.audit.chain import Principal  # noqa: PLC0415
    from router.settings import load_settings  # noqa: PLC0415
    settings = load_settings(args.config, data_dir=args.data_dir)
    event = audit_events.key_created(key_hash, Principal(via="cli", actor=getpass.getuser()),
                                     authority=None)

    async def append(store: AlertStore) -> None:
        await store.append_audit([event])

    asyncio.run(_with_store(settings, append))


def _hash(_args: argparse.Namespace) -> int:
    key = sys.stdin.readline().strip()
    if not key:
        print("tocsin keys hash: no key on standard input", file=sys.stderr)
        return 2
    print(hash_api_key(key))
    return 0
