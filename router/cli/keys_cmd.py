"""``tocsin keys new`` / ``tocsin keys hash``: API keys and the hashes the settings file holds.

A key is printed once and never stored; configuration holds only its
``sha256:`` hash, under an authority's ``key_hashes``.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import Any

from router.settings import hash_api_key


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("keys", help="make API keys and their hashes")
    actions = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="generate a key; print it and its hash")
    new.set_defaults(handler=_new)
    hashed = actions.add_parser("hash", help="hash a key read from standard input")
    hashed.set_defaults(handler=_hash)


def _new(_args: argparse.Namespace) -> int:
    key = "tk-" + secrets.token_urlsafe(32)
    print(f"key:  {key}\nhash: {hash_api_key(key)}")
    print("Give the key to the authority; put the hash in its key_hashes.", file=sys.stderr)
    return 0


def _hash(_args: argparse.Namespace) -> int:
    key = sys.stdin.readline().strip()
    if not key:
        print("tocsin keys hash: no key on standard input", file=sys.stderr)
        return 2
    print(hash_api_key(key))
    return 0
