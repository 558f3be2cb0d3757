"""``tocsin audit verify [--data-dir D] [--config FILE] [--anchor SEQ:HASH]`` and
``tocsin audit head``: check the tamper-evident audit trail of a store.

``verify`` recomputes every entry's hash and the links between them, in sequence
order, compares the end with the head the store keeps beside the trail, then
checks that every alert the trail says was submitted is still stored with the
bytes it was accepted with (``alert-changed``).
Exit status: 0 intact; 1 broken, naming the first entry changed, removed or
reordered (and which of those it was, where that can be told); 2 no store or no
audit trail there. It opens the database read-only, so it can run beside a
running service.

``head`` prints ``SEQ:HASH`` of the last entry: record it somewhere the store's
host cannot rewrite (a ticket, another system's log), and a later ``verify
--anchor SEQ:HASH`` also catches a trail rewritten from before that entry with
recomputed hashes, which the database alone cannot show (see docs/audit.md).
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audit", help="check the tamper-evident audit trail")
    actions = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser("verify", help="recompute the hash chain; exit 1 if broken",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("--anchor", metavar="SEQ:HASH",
                        help="an entry's hash recorded elsewhere (from `tocsin audit head`)")
    head = actions.add_parser("head", help="print SEQ:HASH of the last entry")
    for action in (verify, head):
        action.add_argument("--data-dir", type=Path, help="where the SQLite store lives")
        action.add_argument("--config", type=Path, help="settings file (YAML)")
    verify.set_defaults(handler=run_verify)
    head.set_defaults(handler=run_head)


def _open(args: argparse.Namespace, command: str) -> sqlite3.Connection | None:
    from router.settings import load_settings  # noqa: PLC0415

    path = load_settings(args.config, data_dir=args.data_dir).database_path
    if not path.is_file():
        print(f"tocsin audit {command}: no store at {path}", file=sys.stderr)
        return None
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'audit_log'").fetchone() is None:
        print(f"tocsin audit {command}: {path} has no audit trail (made by an older Tocsin "
              "that kept none; start the service once to add it)", file=sys.stderr)
        conn.close()
        return None
    return conn


def _anchor(text: str | None) -> Any:
    from router.audit.chain import Head  # noqa: PLC0415

    if text is None:
        return None
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise ValueError(f"--anchor {text!r} is not SEQ:HASH (as `tocsin audit head` prints)")
    return Head(int(seq), digest.lower())


def run_verify(args: argparse.Namespace) -> int:
    from router.audit.chain import check_alerts, verify_chain  # noqa: PLC0415
    from router.store import audit  # noqa: PLC0415

    try:
        anchor = _anchor(args.anchor)
    except ValueError as exc:
        print(f"tocsin audit verify: {exc}", file=sys.stderr)
        return 2
    conn = _open(args, "verify")
    if conn is None:
        return 2
    try:
        conn.execute("BEGIN")  # one snapshot: a service appending meanwhile is not a break
        verdict = verify_chain(lambda: audit.entries(conn), audit.head(conn), anchor)
        broken = verdict.broken or check_alerts(lambda: audit.entries(conn),
                                                lambda alert_id: _raw_sha256(conn, alert_id))
    finally:
        conn.close()
    if broken is not None:
        print(f"BROKEN at entry {broken.seq} ({broken.kind.value}): {broken.message}")
        print(f"the chain of {verdict.checked} entries is intact" if verdict.intact else
              f"{verdict.checked} entries before it are intact (up to entry "
              f"{verdict.last.seq}).")
        return 1
    print(f"intact: {verdict.checked} entries; head {verdict.last.seq}:{verdict.last.hash}")
    return 0


def _raw_sha256(conn: sqlite3.Connection, alert_id: str) -> str | None:
    row = conn.execute("SELECT raw FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    return None if row is None else hashlib.sha256(bytes(row[0])).hexdigest()


def run_head(args: argparse.Namespace) -> int:
    from router.store import audit  # noqa: PLC0415

    conn = _open(args, "head")
    if conn is None:
        return 2
    try:
        found = audit.head(conn)
    finally:
        conn.close()
    if found is None:
        print("tocsin audit head: the head is missing; run `tocsin audit verify`",
              file=sys.stderr)
        return 1
    print(f"{found.seq}:{found.hash}")
    return 0
