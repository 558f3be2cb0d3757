"""Principals from the settings file and from the store; approvals kept by the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.http.problems import ProblemError
from router.ingest.auth import Authenticator
from router.settings import ApiKey, Authority, hash_api_key
from router.store import (
    AlertState,
    DecisionOutcome,
    HoldForApproval,
    NewAlert,
    PlannedDelivery,
    SqliteStore,
    StoredKey,
)
from router.trust import Role, compile_policies
from tests.integration.conftest import make_alert

AUTHORITIES = [Authority(name="a", senders=["*"], key_hashes=[hash_api_key("plain")],
                         keys=[ApiKey(name="lead", hash=hash_api_key("lead"),
                                      roles=["approve"])]),
               Authority(name="b", senders=["*"])]


@pytest.fixture
async def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(tmp_path / "s.sqlite3")
    await opened.open()
    yield opened  # type: ignore[misc]
    await opened.close()


def stored(key_id: str, key: str, roles: tuple[str, ...], authority: str = "b") -> StoredKey:
    return StoredKey(key_id, authority, key_id, roles, hash_api_key(key), datetime.now(UTC))


async def test_settings_keys_and_store_keys_become_principals(store: SqliteStore) -> None:
    auth = Authenticator(AUTHORITIES, compile_policies(AUTHORITIES, set()), store)
    plain = await auth.authenticate("Bearer plain")
    assert plain.authority == "a"
    assert plain.roles == {Role.SUBMIT, Role.CANCEL, Role.READ}
    assert (await auth.authenticate("Bearer lead")).id == "a/lead"
    await store.add_key(stored("k-1", "from-store", ("submit", "read")))
    principal = await auth.authenticate("Bearer from-store")
    assert (principal.id, principal.roles) == ("b/k-1", {Role.SUBMIT, Role.READ})
    assert await store.revoke_key("k-1")
    with pytest.raises(ProblemError) as refused:
        await auth.authenticate("Bearer from-store")
    assert (refused.value.status, refused.value.code) == (401, "auth.invalid-key")
    assert not await store.revoke_key("k-1")  # once


async def test_a_stored_key_with_unknown_roles_is_refused_by_code(store: SqliteStore) -> None:
    auth = Authenticator(AUTHORITIES, compile_policies(AUTHORITIES, set()), store)
    await store.add_key(stored("k-2", "odd", ("submit", "publish")))
    with pytest.raises(ProblemError) as refused:
        await auth.authenticate("Bearer odd")
    assert (refused.value.status, refused.value.code) == (403, "auth.unknown-role")
    assert "publish" in refused.value.detail
    await store.add_key(stored("k-3", "orphan", ("submit",), authority="gone"))
    with pytest.raises(ProblemError):
        await auth.authenticate("Bearer orphan")


def held(identifier: str, by: str, window: timedelta) -> NewAlert:
    from router.cap import parse_cap  # noqa: PLC0415

    body = make_alert(identifier)
    document = parse_cap(body).document
    assert document is not None
    now = datetime.now(UTC)
    return NewAlert(id=f"01{identifier}", alert=document.alert, raw=body, content_hash=identifier,
                    profile="cap12", authority="a", received_at=now, findings=[],
                    plan=[PlannedDelivery("file", "r")],
                    hold=HoldForApproval("rule 1", by, now + window))


async def test_the_store_holds_then_approves_once_and_never_for_the_submitter(
        store: SqliteStore) -> None:
    await store.accept(held("H1", "a/lead", timedelta(minutes=10)))
    record = await store.get("01H1")
    assert record is not None
    assert (record.state, record.deliveries) == (AlertState.PENDING_APPROVAL, [])
    assert await store.approve("01H1", "a/lead") is DecisionOutcome.SAME_PERSON
    assert await store.approve("01H1", "a/second") is DecisionOutcome.DONE
    assert await store.approve("01H1", "a/third") is DecisionOutcome.NOT_PENDING
    record = await store.get("01H1")
    assert record is not None
    assert record.state is AlertState.ACCEPTED
    assert [d.channel for d in record.deliveries] == ["file"]
    assert record.approval is not None
    assert record.approval.decided_by == "a/second"


async def test_an_alert_past_its_window_expires_and_cannot_be_approved(
        store: SqliteStore) -> None:
    await store.accept(held("H2", "a/lead", timedelta(seconds=-1)))
    assert await store.approve("01H2", "a/second") is DecisionOutcome.EXPIRED
    record = await store.get("01H2")
    assert record is not None
    assert (record.state, record.deliveries) == (AlertState.EXPIRED_UNAPPROVED, [])
    await store.accept(held("H3", "a/lead", timedelta(seconds=-1)))
    assert await store.expire_unapproved() == ["01H3"]
    assert await store.reject("01H3", "a/second", "late") is DecisionOutcome.NOT_PENDING


async def test_decisions_and_keys_are_chained_in_the_audit_trail(store: SqliteStore) -> None:
    """Approve, reject, expiry and key made/revoked each append their entry in the
    transaction that records them, and the chain stays intact."""
    from router.audit.chain import verify_chain  # noqa: PLC0415

    await store.accept(held("H4", "a/lead", timedelta(minutes=10)))
    assert await store.approve("01H4", "a/second") is DecisionOutcome.DONE
    await store.accept(held("H5", "a/lead", timedelta(minutes=10)))
    assert await store.reject("01H5", "a/second", "wrong area") is DecisionOutcome.DONE
    await store.accept(held("H6", "a/lead", timedelta(seconds=-1)))
    assert await store.expire_unapproved() == ["01H6"]
    await store.add_key(stored("k-9", "audited", ("submit",)))
    assert await store.revoke_key("k-9")
    assert not await store.revoke_key("k-9")  # nothing revoked: nothing recorded
    entries = (await store.audit_page(limit=100)).items
    decided = [(e.kind, e.subject) for e in entries
               if e.kind.startswith("alert.") and e.kind != "alert.submitted"]
    assert decided == [("alert.approved", "01H4"), ("alert.approval-rejected", "01H5"),
                       ("alert.expired-unapproved", "01H6")]
    approved = next(e for e in entries if e.kind == "alert.approved")
    assert (approved.principal.authority, approved.principal.key) == ("a", "a/second")
    assert [e.kind for e in entries if e.kind.startswith("key.")] == ["key.created",
                                                                      "key.revoked"]
    verdict = verify_chain(lambda: iter(entries), await store.audit_head())
    assert verdict.intact, verdict.broken
    assert verdict.checked == len(entries)
