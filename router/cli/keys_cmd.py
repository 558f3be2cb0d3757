"""``tocsin keys new [--data-dir D] [--config FILE]`` / ``tocsin keys hash``: API keys and
the hashes the settings file holds.

A key is printed once and never stored; configuration holds only its
``sha256:`` hash, under an authority's ``key_hashes``. ``keys new`` first appends a
``key.created`` entry (the hash, and the operating-system user who ran it) to the
audit trail of the store in the data directory; no key is printed if that fails.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys
from pathlib import Path
from typing import Any

from router.settings import hash_api_key


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("keys", help="make API keys and their hashes")
    actions = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="generate a key; print it and its hash")
    new.add_argument("--data-dir", type=Path, help="the store whose audit trail records it")
    new.add_argument("--config", type=Path, help="settings file (YAML)")
    new.set_defaults(handler=_new)
    hashed = actions.add_parser("hash", help="hash a key read from standard input")
    hashed.set_defaults(handler=_hash)


def _new(args: argparse.Namespace) -> int:
    key = "tk-" + secrets.token_urlsafe(32)
    try:
        _audit_created(args, hash_api_key(key))
    except Exception as exc:  # any failure: no key without its record
        print(f"tocsin keys new: the audit trail could not record the key, none made: {exc}",
              file=sys.stderr)
        return 1
    print(f"key:  {key}\nhash: {hash_api_key(key)}")
    print("Give the key to the authority; put the hash in its key_hashes.", file=sys.stderr)
    return 0


def _audit_created(args: argparse.Namespace, key_hash: str) -> None:
    from router.audit import events as audit_events  # noqa: PLC0415
    from router.audit.chain import Principal  # noqa: PLC0415
    from router.settings import load_settings  # noqa: PLC0415
    from router.store import SqliteStore  # noqa: PLC0415

    settings = load_settings(args.config, data_dir=args.data_dir)
    event = audit_events.key_created(key_hash, Principal(via="cli", actor=getpass.getuser()),
                                     authority=None)

    async def append() -> None:
        store = SqliteStore(settings.database_path)
        await store.open()
        try:
            await store.append_audit([event])
        finally:
            await store.close()

    asyncio.run(append())


def _hash(_args: argparse.Namespace) -> int:
    key = sys.stdin.readline().strip()
    if not key:
        print("tocsin keys hash: no key on standard input", file=sys.stderr)
        return 2
    print(hash_api_key(key))
    return 0
