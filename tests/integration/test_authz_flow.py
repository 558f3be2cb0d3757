"""Who may say what, through real ``tocsin serve --demo`` processes and the demo's mock
network elements: authority-bound references, scope, area, roles, read isolation,
four-eyes approval and keys made and revoked while the service runs."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from router.settings import hash_api_key
from tests.integration.conftest import make_alert
from tests.integration.server import DEV_KEY, REPO, Server, start_server
from tests.integration.test_dispatch_flow import FAST

POLICY = REPO / "tests" / "fixtures" / "policy"
A_LEAD, A_SECOND, B_KEY = "a-lead-key-0123456789", "a-second-key-0123456789", "b-key-0123456789"
APPROVER_KEY = "test-approver-key-0123456789"
CAP = "application/cap+xml"
A_SENDER, B_SENDER = "meldkamer@vr-rr.example.nl", "meldkamer@vr-zeeland.example.nl"
FINAL = {"delivered", "failed", "expired", "cancelled", "skipped", "superseded"}
PUBLIC = {"cell_broadcast", "sms", "eudi_wallet", "galileo_ewss", "webhook"}


def write_config(base: Path, extra_a: str = "") -> Path:
    config = base / "tocsin.yaml"
    config.write_text(
        "authorities:\n"
        "  - name: vr-rotterdam\n"
        "    senders: ['*@vr-rr.example.nl']\n"
        "    keys:\n"
        f"      - {{name: lead, hash: '{hash_api_key(A_LEAD)}', "
        "roles: [submit, cancel, approve, read]}\n"
        f"      - {{name: second, hash: '{hash_api_key(A_SECOND)}', roles: [approve, read]}}\n"
        f"{extra_a}"
        "  - name: vr-zeeland\n"
        "    senders: ['*@vr-zeeland.example.nl']\n"
        "    channels: [webhook, file]\n"
        f"    key_hashes: ['{hash_api_key(B_KEY)}']\n", encoding="utf-8")
    return config


AREA = ("    area:\n"
        f"      polygons_file: {POLICY / 'rotterdam.geojson'}\n"
        "      tolerance_m: 500\n")


def serve(base: Path, **env: str) -> Server:
    return start_server(base / "data", env={
        **FAST, "TOCSIN_CONFIG": str(write_config(base, AREA)),
        "TOCSIN_DEV_APPROVER_KEY": APPROVER_KEY, **env})


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = serve(tmp_path_factory.mktemp("authz"))
    yield server
    server.stop(signal.SIGKILL)


def extreme(identifier: str, sender: str = A_SENDER) -> bytes:
    return make_alert(identifier, sender=sender).replace(b"<severity>Severe</severity>",
                                                         b"<severity>Extreme</severity>")


def cancel_of(original: bytes, identifier: str, sender: str) -> bytes:
    text = original.decode()
    old_sender = text.split("<sender>")[1].split("</sender>")[0]
    old_id = text.split("<identifier>")[1].split("</identifier>")[0]
    sent = text.split("<sent>")[1].split("</sent>")[0]
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
            f"<identifier>{identifier}</identifier><sender>{sender}</sender>"
            f"<sent>2026-11-25T14:30:00+01:00</sent><status>Actual</status>"
            f"<msgType>Cancel</msgType><scope>Public</scope>"
            f"<references>{old_sender},{old_id},{sent}</references></alert>").encode()


async def post(server: Server, body: bytes, key: str = DEV_KEY) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{server.url}/api/v1/alerts", data=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": CAP}) as response:
        return response.status, await response.json(content_type=None)


async def call(server: Server, method: str, path: str, key: str = DEV_KEY,
               body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
            method, server.url + path, json=body,
            headers={"Authorization": f"Bearer {key}"}) as response:
        text = await response.text()
        return response.status, json.loads(text) if text.startswith(("{", "[")) else text


async def status(server: Server, alert_id: str, key: str = DEV_KEY) -> dict[str, Any]:
    code, body = await call(server, "GET", f"/api/v1/alerts/{alert_id}", key)
    assert code == 200, body
    return dict(body)


async def until(server: Server, alert_id: str, done: Any, key: str = DEV_KEY,
                timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = await status(server, alert_id, key)
        if done(current):
            return current
        assert time.monotonic() < deadline, f"not done in time: {current}"
        await asyncio.sleep(0.1)


def all_final(alert: dict[str, Any]) -> bool:
    return bool(alert["deliveries"]) and all(d["state"] in FINAL for d in alert["deliveries"])


def mock_received(server: Server, channel: str) -> list[Any]:
    started = next(line for line in server.log_lines() if line.get("event") == "service.started")
    url = str(started["mock_elements"][channel]) + "/_mock/received"
    with urllib.request.urlopen(url, timeout=10) as response:
        return list(json.loads(response.read()))


def tocsin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)


async def run_tocsin(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as its own process, off the event loop."""
    return await asyncio.to_thread(tocsin, *args)


# -- authority-bound references ---------------------------------------------------------

async def test_cross_authority_cancel_is_403_and_the_alert_stays_in_force(api: Server) -> None:
    original = make_alert("AUTHZ-REF-1")
    code, accepted = await post(api, original, A_LEAD)
    assert code == 202, accepted
    code, problem = await post(api, cancel_of(original, "AUTHZ-REF-1-C", B_SENDER), B_KEY)
    assert code == 403, problem
    assert problem["code"] == "authz.reference"
    assert [f["code"] for f in problem["findings"]] == ["authz.reference"]
    assert "vr-rotterdam" not in json.dumps(problem)
    assert "vr-rr" not in json.dumps(problem)
    alert = await until(api, accepted["id"], all_final, A_LEAD)
    assert alert["lifecycle"] == "accepted"
    assert alert["cancelled_by"] is None
    assert not any(d["state"] == "cancelled" for d in alert["deliveries"])
    code, _ = await call(api, "GET", "/api/v1/alerts?limit=500", B_KEY)
    # the refused Cancel was not stored
    code, listing = await call(api, "GET", "/api/v1/alerts?limit=500", B_KEY)
    assert all(item["key"]["identifier"] != "AUTHZ-REF-1-C" for item in listing["items"])
    # the authority's own Cancel still works
    code, own = await post(api, cancel_of(original, "AUTHZ-REF-1-C2", A_SENDER), A_LEAD)
    assert code == 202, own
    assert (await status(api, accepted["id"], A_LEAD))["state"] == "cancelled"


# -- scope ------------------------------------------------------------------------------

async def test_private_alert_reaches_no_public_channel(api: Server) -> None:
    private = make_alert("AUTHZ-PRIV-1", sender=A_SENDER).replace(
        b"<scope>Public</scope>",
        b"<scope>Private</scope><addresses>ops@vr-rr.example.nl</addresses>").replace(
        b"Grote brand in Rotterdam-Zuid", b"INTERNAL ONLY")
    code, accepted = await post(api, private, A_LEAD)
    assert code == 202, accepted
    assert "authz.scope" in {w["code"] for w in accepted["warnings"]}
    alert = await until(api, accepted["id"], all_final, A_LEAD)
    deliveries = {d["channel"]: d for d in alert["deliveries"]}
    assert set(deliveries) & PUBLIC, "the test alert must be routed to public channels"
    for channel in set(deliveries) & PUBLIC:
        assert deliveries[channel]["state"] in {"skipped", "standby"}, deliveries[channel]
        if deliveries[channel]["state"] == "skipped":
            assert deliveries[channel]["history"][-1]["reason"] == "scope"
    for channel in ("webhook", "cell_broadcast"):
        assert not [r for r in mock_received(api, channel)
                    if "INTERNAL ONLY" in json.dumps(r) or accepted["id"] in json.dumps(r)]


# -- area -------------------------------------------------------------------------------

async def test_key_outside_its_area_gets_403_authz_area(api: Server) -> None:
    amsterdam = make_alert("AUTHZ-AREA-1").replace(
        b"51.8950,4.4300 51.8950,4.4900 51.8700,4.4900 51.8700,4.4300 51.8950,4.4300",
        b"52.3800,4.8600 52.3800,4.9400 52.3400,4.9400 52.3400,4.8600 52.3800,4.8600")
    code, problem = await post(api, amsterdam, A_LEAD)
    assert code == 403, problem
    assert problem["code"] == "authz.area"
    assert [f["code"] for f in problem["findings"]] == ["authz.area"]
    assert problem["findings"][0]["location"] == "/alert/info[1]/area[1]"
    code, listing = await call(api, "GET", "/api/v1/alerts?limit=500", A_LEAD)
    assert all(item["key"]["identifier"] != "AUTHZ-AREA-1" for item in listing["items"])
    code, inside = await post(api, make_alert("AUTHZ-AREA-2"), A_LEAD)
    assert code == 202, inside


async def test_channels_the_policy_forbids_are_not_planned(api: Server) -> None:
    code, accepted = await post(api, make_alert("AUTHZ-CH-1", sender=B_SENDER), B_KEY)
    assert code == 202, accepted
    refused = {w["message"].split("'")[1] for w in accepted["warnings"]
               if w["code"] == "authz.channel"}
    assert {"cell_broadcast", "sms", "eudi_wallet"} <= refused
    alert = await until(api, accepted["id"], all_final, B_KEY)
    assert [d["channel"] for d in alert["deliveries"]] == ["webhook"]
    assert "authz.channel" in {f["code"] for f in alert["findings"]}


# -- read isolation and roles -----------------------------------------------------------

async def test_an_authority_reads_only_its_own_alerts(api: Server) -> None:
    code, accepted = await post(api, make_alert("AUTHZ-READ-1"), A_LEAD)
    assert code == 202
    alert_id = accepted["id"]
    for path in (f"/api/v1/alerts/{alert_id}", f"/api/v1/alerts/{alert_id}/cap",
                 f"/api/v1/alerts/{alert_id}/variants", f"/api/v1/alerts/{alert_id}/events"):
        code, body = await call(api, "GET", path, B_KEY)
        assert code == 404, (path, body)
        assert body["code"] == "alert.not-found"
    code, listing = await call(api, "GET", "/api/v1/alerts?limit=500", B_KEY)
    assert code == 200
    assert all(item["authority"] == "vr-zeeland" for item in listing["items"])
    code, own = await call(api, "GET", f"/api/v1/alerts/{alert_id}", A_LEAD)
    assert code == 200
    assert own["authority"] == "vr-rotterdam"


async def test_forbidden_sender_names_no_authority_or_patterns(api: Server) -> None:
    code, problem = await post(api, make_alert("AUTHZ-SND-1", sender=A_SENDER), B_KEY)
    assert code == 403
    assert problem["code"] == "auth.sender-not-allowed"
    text = json.dumps(problem)
    for secret in ("vr-zeeland", "vr-rotterdam", "*@"):  # the caller's sender is echoed
        assert secret not in text


async def test_a_key_without_submit_cannot_post(api: Server) -> None:
    code, problem = await post(api, make_alert("AUTHZ-ROLE-1"), A_SECOND)
    assert code == 403
    assert problem["code"] == "auth.role"


# -- four-eyes approval -----------------------------------------------------------------

async def test_actual_extreme_waits_for_a_second_principal_then_is_delivered(
        api: Server) -> None:
    code, accepted = await post(api, extreme("AUTHZ-4E-1"), A_LEAD)
    assert code == 202, accepted
    alert_id = accepted["id"]
    await asyncio.sleep(1.0)  # several dispatcher polls: nothing may be planned or sent
    held = await status(api, alert_id, A_LEAD)
    assert held["state"] == "pending_approval"
    assert held["deliveries"] == []
    assert held["approval"]["submitted_by"] == "vr-rotterdam/lead"
    assert not [r for r in mock_received(api, "webhook") if alert_id in json.dumps(r)]
    code, problem = await call(api, "POST", f"/api/v1/alerts/{alert_id}/approve", A_LEAD)
    assert code == 403
    assert problem["code"] == "authz.same-person"
    code, problem = await call(api, "POST", f"/api/v1/alerts/{alert_id}/approve", B_KEY)
    assert code == 403
    assert problem["code"] == "auth.role"
    assert (await status(api, alert_id, A_LEAD))["deliveries"] == []
    code, approved = await call(api, "POST", f"/api/v1/alerts/{alert_id}/approve", A_SECOND)
    assert code == 200, approved
    assert approved["approval"]["decision"] == "approved"
    assert approved["approval"]["decided_by"] == "vr-rotterdam/second"
    done = await until(api, alert_id, all_final, A_LEAD)
    states = {d["channel"]: d["state"] for d in done["deliveries"]}
    assert states["webhook"] == "delivered"
    assert states["cell_broadcast"] == "delivered"
    assert [r for r in mock_received(api, "webhook") if r["idempotency_key"] ==
            f"{alert_id}/webhook"]
    code, again = await call(api, "POST", f"/api/v1/alerts/{alert_id}/approve", A_SECOND)
    assert code == 409
    assert again["code"] == "approval.not-pending"


async def test_demo_approver_key_approves_demo_alerts_and_severe_flows_at_once(
        own_api: Server) -> None:
    api = own_api
    code, severe = await post(api, make_alert("AUTHZ-DEMO-1", sender="x@demo.example"))
    assert code == 202
    assert (await status(api, severe["id"]))["lifecycle"] == "accepted"
    code, accepted = await post(api, extreme("AUTHZ-DEMO-2", sender="x@demo.example"))
    assert code == 202
    assert (await status(api, accepted["id"]))["state"] == "pending_approval"
    url = ["--url", api.url]
    listed = await run_tocsin("pending", *url, "--key", APPROVER_KEY)
    assert listed.returncode == 0, listed.stderr
    assert accepted["id"] in listed.stdout
    own = await run_tocsin("approve", accepted["id"], *url, "--key", DEV_KEY)
    assert own.returncode == 1
    assert "auth.role" in own.stderr
    done = await run_tocsin("approve", accepted["id"], *url, "--key", APPROVER_KEY)
    assert done.returncode == 0, done.stderr
    assert (await until(api, accepted["id"], all_final))["lifecycle"] == "accepted"


async def test_rejected_alert_is_never_delivered(api: Server) -> None:
    code, accepted = await post(api, extreme("AUTHZ-4E-REJ"), A_LEAD)
    assert code == 202
    code, problem = await call(api, "POST", f"/api/v1/alerts/{accepted['id']}/reject",
                               A_SECOND, {})
    assert code == 400
    assert problem["code"] == "approval.reason-required"
    code, rejected = await call(api, "POST", f"/api/v1/alerts/{accepted['id']}/reject",
                                A_SECOND, {"reason": "wrong area"})
    assert code == 200
    assert rejected["state"] == "rejected"
    assert rejected["approval"]["decision_reason"] == "wrong area"
    await asyncio.sleep(0.5)
    assert (await status(api, accepted["id"], A_LEAD))["deliveries"] == []


@pytest.fixture
def own_api(tmp_path: Path) -> Iterator[Server]:
    """A server of its own: the Dutch cell-broadcast pool for Extreme alerts has one
    identifier, which an Extreme alert of another test may still hold (busy)."""
    server = serve(tmp_path)
    yield server
    server.stop(signal.SIGKILL)


async def test_cancel_of_an_approved_alert_goes_out_at_once(own_api: Server) -> None:
    api = own_api
    original = extreme("AUTHZ-4E-CAN")
    code, accepted = await post(api, original, A_LEAD)
    assert code == 202
    code, _ = await call(api, "POST", f"/api/v1/alerts/{accepted['id']}/approve", A_SECOND)
    assert code == 200
    carried = {d["channel"] for d in (await until(api, accepted["id"], all_final, A_LEAD)
                                      )["deliveries"] if d["state"] == "delivered"}
    assert carried
    code, cancel = await post(api, cancel_of(original, "AUTHZ-4E-CAN-C", A_SENDER), A_LEAD)
    assert code == 202, cancel
    cancelled = await status(api, cancel["id"], A_LEAD)
    assert cancelled["lifecycle"] == "accepted"
    assert cancelled["approval"] is None
    assert cancelled["deliveries"], "a Cancel needing no approval is planned at once"
    done = await until(api, cancel["id"], all_final, A_LEAD)
    states = {d["channel"]: d["state"] for d in done["deliveries"]}
    assert carried <= set(states), states  # it reached every channel that carried the alert
    assert "failed" not in states.values(), states
    assert states.get("webhook") == "delivered", states
    assert (await status(api, accepted["id"], A_LEAD))["state"] == "cancelled"


async def test_unapproved_alert_expires_even_across_a_restart(tmp_path: Path) -> None:
    env = {"TOCSIN_APPROVAL": json.dumps({"window_s": 2, "rules": [
        {"status": ["Actual"], "severity": ["Extreme"]}]}),
        "TOCSIN_APPROVAL_SWEEP_INTERVAL_S": "0.2"}
    server = serve(tmp_path, **env)
    try:
        code, accepted = await post(server, extreme("AUTHZ-EXP-1"), A_LEAD)
        assert code == 202
        assert (await status(server, accepted["id"], A_LEAD))["state"] == "pending_approval"
    finally:
        server.stop(signal.SIGKILL)
    await asyncio.sleep(2.5)  # the window closes while the service is down
    server = serve(tmp_path, **env)
    try:
        alert = await until(server, accepted["id"],
                            lambda a: a["state"] == "expired_unapproved", A_LEAD)
        assert alert["deliveries"] == []
        assert alert["approval"]["decision"] == "expired"
        code, problem = await call(server, "POST", f"/api/v1/alerts/{accepted['id']}/approve",
                                   A_SECOND)
        assert code == 409
        assert problem["code"] == "approval.not-pending"
    finally:
        server.stop(signal.SIGKILL)


# -- keys made and revoked while the service runs ----------------------------------------



async def test_keys_new_list_revoke_take_effect_at_once(tmp_path: Path) -> None:
    server = serve(tmp_path)
    where = ["--config", str(tmp_path / "tocsin.yaml"), "--data-dir", str(server.data_dir)]
    try:
        made = await run_tocsin("keys", "new", "--authority", "vr-zeeland", "--roles", "submit,read",
                      "--name", "duty-officer", *where)
        assert made.returncode == 0, made.stderr
        key = made.stdout.split("key:")[1].split()[0]
        key_id = made.stdout.split("id:")[1].split()[0]
        code, listing = await call(server, "GET", "/api/v1/alerts", key)
        assert code == 200, listing
        code, accepted = await post(server, make_alert("AUTHZ-KEY-1", sender=B_SENDER), key)
        assert code == 202, accepted
        listed = await run_tocsin("keys", "list", *where)
        assert key_id in listed.stdout
        assert key not in listed.stdout
        assert (await run_tocsin("keys", "revoke", key_id, *where)).returncode == 0
        code, problem = await call(server, "GET", "/api/v1/alerts", key)
        assert code == 401
        assert problem["code"] == "auth.invalid-key"
        assert "revoked" in (await run_tocsin("keys", "list", *where)).stdout
        bad = await run_tocsin("keys", "new", "--authority", "vr-zeeland", "--roles", "submit,publish",
                     *where)
        assert bad.returncode == 2
        assert "publish" in bad.stderr
        unknown = await run_tocsin("keys", "new", "--authority", "nobody", *where)
        assert unknown.returncode == 2
        assert "nobody" in unknown.stderr
    finally:
        server.stop(signal.SIGKILL)


# -- configuration faults named at start-up ---------------------------------------------

@pytest.mark.parametrize("content", ["{not json", '{"type": "Point", "coordinates": [4, 52]}',
                                     '{"type": "Polygon", "coordinates": [[[4, 52], [5]]]}'])
def test_policy_polygon_file_that_is_not_geojson_is_named_at_start_up(
        tmp_path: Path, content: str) -> None:
    broken = tmp_path / "broken-area.geojson"
    broken.write_text(content, encoding="utf-8")
    config = write_config(tmp_path, f"    area: {{polygons_file: {broken}}}\n")
    with pytest.raises(RuntimeError) as failed:
        start_server(tmp_path / "data", env={"TOCSIN_CONFIG": str(config)}, timeout=90)
    assert str(broken) in str(failed.value)
    assert "Traceback" not in str(failed.value)


def test_a_settings_key_with_unknown_roles_is_refused_at_start_up(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"      - {{name: odd, hash: '{hash_api_key('odd-key-0123')}'"
                                    ", roles: [submit, publish]}\n")
    with pytest.raises(RuntimeError) as failed:
        start_server(tmp_path / "data", env={"TOCSIN_CONFIG": str(config)}, timeout=90)
    assert "publish" in str(failed.value)
    assert "Traceback" not in str(failed.value)
