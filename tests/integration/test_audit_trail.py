"""The audit trail through a real ``tocsin serve``: a normal run (submit, Update, Cancel,
refused posts, a key made by the CLI beside the service) leaves a chain that
``tocsin audit verify`` finds intact; every kind of tampering with the SQLite rows
afterwards makes it exit 1 naming the entry; ``GET /api/v1/audit`` is for ``admin``."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import json
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from router.settings import hash_api_key
from tests.integration.conftest import EXAMPLES
from tests.integration.server import DEV_KEY, REPO, Server, start_server

VR_KEY = "vr-rr-audit-key-abcdefghijkl"
ADMIN_KEY = "ops-admin-audit-key-abcdefgh"
CAP = "application/cap+xml"


def _key_id(key: str) -> str:
    return hash_api_key(key)[:23]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[dict]]]:
    """A server taken through a normal run; yields it (running) and the trail it shows."""
    base = tmp_path_factory.mktemp("audit")
    config = base / "tocsin.yaml"
    config.write_text(
        "audit_aggregate_interval_s: 0.3\n"
        "authorities:\n"
        "  - name: vr-zeeland\n"
        "    senders: ['*@vrzeeland.example.nl']\n"
        f"    key_hashes: ['{hash_api_key(VR_KEY)}']\n"
        "  - name: operations\n"
        "    senders: ['ops@tocsin.invalid']\n"
        "    keys:\n"
        f"      - {{name: ops-admin, hash: '{hash_api_key(ADMIN_KEY)}', roles: [read, admin]}}\n",
        encoding="utf-8")
    server = start_server(base / "data", env={"TOCSIN_CONFIG": str(config)})
    try:
        asyncio.run(_normal_run(server))
        assert _tocsin("keys", "new", "--data-dir", str(server.data_dir)).returncode == 0
        yield server, asyncio.run(_wait_for_trail(server))
    finally:
        server.stop(signal.SIGKILL)


async def _normal_run(server: Server) -> None:
    fire = (EXAMPLES / "nl-alert-fire.xml").read_bytes()
    async with aiohttp.ClientSession() as session:
        for name in ("nl-alert-fire.xml", "nl-alert-fire-update.xml",
                     "nl-alert-fire-cancel.xml"):
            assert await _post(session, server, (EXAMPLES / name).read_bytes()) == 202
        bad = fire.replace(b"<urgency>Immediate</urgency>", b"<urgency>Now</urgency>")
        assert await _post(session, server, bad) == 422
        assert await _post(session, server, fire, key=VR_KEY) == 403
        for _ in range(3):
            assert await _post(session, server, fire, key=None) == 401


async def _post(session: aiohttp.ClientSession, server: Server, body: bytes,
                key: str | None = DEV_KEY) -> int:
    headers = {"Content-Type": CAP, **({"Authorization": f"Bearer {key}"} if key else {})}
    async with session.post(f"{server.url}/api/v1/alerts", data=body,
                            headers=headers) as response:
        return response.status


async def _get(server: Server, query: str = "", key: str = ADMIN_KEY
               ) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.get(
            f"{server.url}/api/v1/audit{query}",
            headers={"Authorization": f"Bearer {key}"}) as response:
        return response.status, await response.json(content_type=None)


async def _wait_for_trail(server: Server) -> list[dict]:
    """The whole trail once the aggregated 401s (written every 0.3 s) are in it."""
    for _ in range(100):
        status, page = await _get(server, "?limit=500")
        assert status == 200, page
        if any(e["kind"] == "ingest.rejections-aggregated" for e in page["items"]):
            return list(page["items"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"no aggregated refusals in {page}")


def _tocsin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)


def _verify(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _tocsin("audit", "verify", "--data-dir", str(data_dir), *extra)


def test_normal_run_records_each_act_with_its_principal(run: tuple[Server, list[dict]]
                                                        ) -> None:
    _server, trail = run
    kinds = [e["kind"] for e in trail]
    assert kinds[:8] == ["config.loaded", "alert.submitted", "alert.submitted",
                         "alert.superseded", "alert.submitted", "alert.cancelled",
                         "ingest.rejected", "policy.violated"]
    # the CLI's key and the 401s counted in memory come next, in either order
    assert sorted(kinds[8:]) == ["ingest.rejections-aggregated", "key.created"]
    by_kind = {e["kind"]: e for e in trail}
    fire, update, cancel = (e for e in trail if e["kind"] == "alert.submitted")
    assert fire["principal"] == {"via": "api", "authority": "demo", "key": _key_id(DEV_KEY),
                                 "actor": None}
    assert fire["detail"]["raw_sha256"] == hashlib.sha256(
        (EXAMPLES / "nl-alert-fire.xml").read_bytes()).hexdigest()
    assert [update["detail"]["msg_type"], cancel["detail"]["msg_type"]] == ["Update", "Cancel"]
    assert by_kind["alert.superseded"]["subject"] == fire["subject"]
    assert by_kind["alert.cancelled"]["subject"] == update["subject"]
    assert by_kind["alert.cancelled"]["detail"]["cancelled_by"] == cancel["subject"]
    rejected = by_kind["ingest.rejected"]["detail"]
    assert (rejected["status"], rejected["code"]) == (422, "cap.invalid")
    assert "xsd.invalid" in rejected["findings"]
    violation = by_kind["policy.violated"]
    assert violation["principal"]["authority"] == "vr-zeeland"
    assert violation["detail"]["code"] == "auth.sender-not-allowed"
    aggregated = by_kind["ingest.rejections-aggregated"]["detail"]
    assert (aggregated["reason"], aggregated["count"]) == ("unauthenticated", 3)
    assert aggregated["codes"] == {"auth.missing-key": 3}
    made = by_kind["key.created"]
    assert made["principal"]["via"] == "cli"
    assert made["detail"]["key_hash"].startswith("sha256:")
    assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
    assert all(e["prev_hash"] == p["hash"] for p, e in itertools.pairwise(trail))


def test_entries_from_the_api_can_be_recomputed(run: tuple[Server, list[dict]]) -> None:
    """What docs/audit.md tells an outside tool to do, done on the API's answer."""
    _server, trail = run
    for entry in trail:
        canonical = {"at": entry["at"], "detail": entry["detail"], "kind": entry["kind"],
                     "prev": entry["prev_hash"], "principal": entry["principal"],
                     "seq": entry["seq"], "subject": entry["subject"], "v": 1}
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == entry["hash"]


def test_verify_is_intact_while_running_and_after_a_normal_run(
        run: tuple[Server, list[dict]]) -> None:
    server, trail = run
    while_running = _verify(server.data_dir)
    assert while_running.returncode == 0, while_running.stdout + while_running.stderr
    assert re.search(r"intact: \d+ entries", while_running.stdout)
    assert int(re.findall(r"intact: (\d+)", while_running.stdout)[0]) >= len(trail)


async def test_audit_route_is_for_admin_only_and_strict(run: tuple[Server, list[dict]]
                                                        ) -> None:
    server, _trail = run
    status, problem = await _get(server, key=VR_KEY)
    assert (status, problem["code"]) == (403, "auth.role")
    assert "vr-zeeland" not in problem["detail"]
    assert "operations" not in problem["detail"]
    status, problem = await _get(server, key="not-a-key")
    assert (status, problem["code"]) == (401, "auth.invalid-key")
    status, problem = await _get(server, "?principal=demo&sice=2026-01-01T00:00:00Z")
    assert (status, problem["code"]) == (400, "query.unknown-parameter")
    assert "sice" in problem["detail"]
    assert (await _get(server, "?since=yesterday"))[0] == 400
    # the refused read is itself a policy violation on record
    _, page = await _get(server, "?principal=vr-zeeland")
    assert [(e["kind"], e["detail"]["request"]["path"]) for e in page["items"]] == [
        ("policy.violated", "/api/v1/alerts"), ("policy.violated", "/api/v1/audit")]
    _, by_key = await _get(server, f"?principal={_key_id(VR_KEY)}")
    assert by_key["items"] == page["items"]
    _, future = await _get(server, "?since=2099-01-01T00:00:00%2B00:00")
    assert future == {"items": [], "next_cursor": None, "total": 0}


async def test_audit_route_pages_through_everything(run: tuple[Server, list[dict]]) -> None:
    server, trail = run
    seen: list[dict] = []
    query = "?limit=2"
    for _ in range(50):
        status, page = await _get(server, query)
        assert status == 200
        assert len(page["items"]) <= 2
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        query = f"?limit=2&cursor={page['next_cursor']}"
    assert seen[:len(trail)] == trail
    assert (await _get(server, "?cursor=bm9wZQ"))[1]["code"] == "query.cursor"


# -- tampering, on copies of the stopped server's database ----------------------------


@pytest.fixture(scope="module")
def stopped(run: tuple[Server, list[dict]]) -> Path:
    """The database after SIGTERM (the final flush and head written), verified intact."""
    server, _trail = run
    assert server.stop() == 0
    result = _verify(server.data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    return server.data_dir / "tocsin.sqlite3"


def _tampered(stopped: Path, tmp_path: Path, change: Callable[[sqlite3.Connection], None]
              ) -> Path:
    data = tmp_path / "copy"
    data.mkdir()
    source, target = sqlite3.connect(stopped), sqlite3.connect(data / "tocsin.sqlite3")
    source.backup(target)
    source.close()
    change(target)
    target.commit()
    target.close()
    return data


def _last(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT max(seq) FROM audit_log").fetchone()[0])


def _swap(conn: sqlite3.Connection, a: int, b: int) -> None:
    conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = ?", (a,))
    conn.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", (a, b))
    conn.execute("UPDATE audit_log SET seq = ? WHERE seq = -1", (b,))


def _rehash(conn: sqlite3.Connection, seq: int, *, keep_link: bool = True) -> None:
    """Recompute entry ``seq``'s hash after a change, as someone covering tracks would."""
    from router.store import audit  # noqa: PLC0415

    entry = next(e for e in audit.entries(conn) if e.seq == seq)
    conn.execute("UPDATE audit_log SET hash = ? WHERE seq = ?", (entry.recomputed_hash(), seq))
    if not keep_link:
        conn.execute("UPDATE audit_head SET hash = ? WHERE seq = ?",
                     (entry.recomputed_hash(), seq))


TAMPERING: list[tuple[str, Callable[[sqlite3.Connection], None], Callable[[int], str]]] = [
    ("detail changed",
     lambda c: c.execute("UPDATE audit_log SET detail = replace(detail, '\"status\":422', "
                         "'\"status\":202') WHERE kind = 'ingest.rejected'"),
     lambda _last: r"BROKEN at entry 7 \(changed\)"),
    ("principal changed",
     lambda c: c.execute("UPDATE audit_log SET authority = 'someone-else' WHERE seq = 2"),
     lambda _last: r"BROKEN at entry 2 \(changed\)"),
    ("changed and re-hashed",
     lambda c: (c.execute("UPDATE audit_log SET subject = 'x' WHERE seq = 4"), _rehash(c, 4)),
     lambda _last: r"BROKEN at entry 4 \(changed\).*entry 5 records a different hash"),
    ("middle row deleted",
     lambda c: c.execute("DELETE FROM audit_log WHERE seq = 3"),
     lambda _last: r"BROKEN at entry 3 \(removed\)"),
    ("first row deleted",
     lambda c: c.execute("DELETE FROM audit_log WHERE seq = 1"),
     lambda _last: r"BROKEN at entry 1 \(removed\)"),
    ("rows swapped",
     lambda c: _swap(c, 5, 6),
     lambda _last: r"BROKEN at entry 5 \(reordered\): .*position 5 holds entry 6"),
    ("row deleted and the rest renumbered",
     lambda c: (c.execute("DELETE FROM audit_log WHERE seq = 3"),
                c.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")),
     lambda _last: r"BROKEN at entry 3 \(removed\).*renumbered"),
    ("last row deleted",
     lambda c: c.execute("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"),
     lambda last: rf"BROKEN at entry {last} \(removed\).*from the end"),
    ("stored alert bytes changed",
     lambda c: c.execute("UPDATE alerts SET raw = CAST('<alert/>' AS BLOB) WHERE id = "
                         "(SELECT subject FROM audit_log WHERE seq = 2)"),
     lambda _last: r"BROKEN at entry 2 \(alert-changed\): alert \w+, .*other bytes"),
    ("stored alert deleted",
     lambda c: c.execute("DELETE FROM alerts WHERE id = "
                         "(SELECT subject FROM audit_log WHERE seq = 5)"),
     lambda _last: r"BROKEN at entry 5 \(alert-changed\): .*no longer stored"),
    ("head deleted",
     lambda c: c.execute("DELETE FROM audit_head"),
     lambda last: rf"BROKEN at entry {last} \(head-missing\)"),
]


@pytest.mark.parametrize(("name", "change", "expected"), TAMPERING,
                         ids=[case[0] for case in TAMPERING])
def test_verify_names_the_first_tampered_entry(stopped: Path, tmp_path: Path, name: str,
                                               change: Callable[[sqlite3.Connection], None],
                                               expected: Callable[[int], str]) -> None:
    conn = sqlite3.connect(stopped)
    last = _last(conn)
    conn.close()
    result = _verify(_tampered(stopped, tmp_path, change))
    assert result.returncode == 1, f"{name}: {result.stdout}{result.stderr}"
    assert re.search(expected(last), result.stdout, re.DOTALL), result.stdout


def test_a_rewritten_chain_passes_alone_and_fails_against_an_anchor(stopped: Path,
                                                                    tmp_path: Path) -> None:
    """The documented limit: the database alone cannot tell a consistent rewrite; the
    head recorded elsewhere (``tocsin audit head``) can."""
    head = _tocsin("audit", "head", "--data-dir", str(stopped.parent))
    assert head.returncode == 0
    anchor = head.stdout.strip()
    assert re.fullmatch(r"\d+:[0-9a-f]{64}", anchor)

    def rewrite(conn: sqlite3.Connection) -> None:
        from router.store import audit  # noqa: PLC0415

        conn.execute("UPDATE audit_log SET detail = replace(detail, 'cap.invalid', 'cap.fine')")
        previous = "0" * 64
        for entry in list(audit.entries(conn)):
            fixed = dataclasses.replace(entry, prev_hash=previous)
            previous = fixed.recomputed_hash()
            conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                         (fixed.prev_hash, previous, entry.seq))
        conn.execute("UPDATE audit_head SET hash = ?", (previous,))

    data = _tampered(stopped, tmp_path, rewrite)
    assert _verify(data).returncode == 0
    result = _verify(data, "--anchor", anchor)
    assert result.returncode == 1
    assert "(anchor-mismatch)" in result.stdout
