"""Three nodes on one PostgreSQL; one is killed (``kill -9``) in the middle of a
20,000-recipient SMS fan-out while cell-broadcast and file deliveries are in flight.
The other two finish everything: every delivery final, every recipient reached exactly
once (the killed node's batch in flight at most repeated, and counted), no
cell-broadcast identifier written for two alerts, no acknowledged alert lost.

Five deaths in one run: seeds 1-5 each pick a point of the 20,000-recipient fan-out,
and at each the node holding it is killed and started again -- at the third it is
paused (``SIGSTOP``) past its lease and resumed instead, a split brain that the fencing
token must refuse. One fan-out with five deaths rather than five fan-outs: the same
five kill times and take-overs at a fifth of the suite's time.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from tests import stores
from tests.contract.harnesses import MockCbcProcess
from tests.integration.cluster import LEASE_S, Cluster, post_anywhere, post_to, wait_final
from tests.integration.conftest import make_alert
from tests.integration.sms_smsc import SmscProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

RECIPIENTS = int(os.environ.get("TOCSIN_NODE_LOSS_RECIPIENTS", "20000"))
ALERTS = 300
SEVERE = 4  # simultaneous Severe alerts: one pool of four identifiers between them
SEEDS = (1, 2, 3, 4, 5)
MAX_IN_FLIGHT = 64  # deliveries one node has out at once (dispatch max_in_flight)
IN_FLIGHT = 500 + 2 * 8
"""What a dead node may have sent without recording it: the SMS channel records its
results before it fetches each next batch of 500, plus binds x window on the wire
(``tests/unit/test_sms_fanout_records.py``)."""
FINAL = frozenset({"delivered", "failed", "expired", "cancelled", "skipped", "superseded"})


def numbers() -> list[str]:
    return [f"3161{n:07d}" for n in range(RECIPIENTS)]


def alert(identifier: str, severity: str, urgency: str = "Immediate",
          certainty: str = "Observed") -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    body = make_alert(identifier, sent=(now - timedelta(minutes=1)).isoformat()).decode()
    body = body.replace("<severity>Severe</severity>", f"<severity>{severity}</severity>")
    body = body.replace("<urgency>Immediate</urgency>", f"<urgency>{urgency}</urgency>")
    body = body.replace("<certainty>Observed</certainty>", f"<certainty>{certainty}</certainty>")
    body = body.replace("<headline>Grote brand in Rotterdam-Zuid</headline>",
                        f"<headline>Grote brand {identifier}</headline>")
    return body.encode()


def short(body: bytes) -> bytes:
    """The alert without descriptions and instructions: one SMS part per recipient."""
    text = body.decode()
    for element in ("description", "instruction"):
        while f"<{element}>" in text:
            start = text.index(f"<{element}>")
            text = text[:start] + text[text.index(f"</{element}>") + len(element) + 3:]
    return text.encode()


def cancel(identifier: str, original: bytes) -> bytes:
    text = original.decode()
    sent = text.split("<sent>")[1].split("</sent>")[0]
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    return (text.replace(f"<identifier>{identifier}</identifier>",
                         f"<identifier>{identifier}-C</identifier>")
            .replace(f"<sent>{sent}</sent>", f"<sent>{now}</sent>")
            .replace("<msgType>Alert</msgType>",
                     "<msgType>Cancel</msgType><references>meldkamer@vr-rr.example.nl,"
                     f"{identifier},{sent}</references>")).encode()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("cluster")
    smsc = SmscProcess()
    cbc = MockCbcProcess()
    running = Cluster(stores.postgres_server().create_database("nodes"), smsc, cbc, workdir)
    try:
        began = time.monotonic()
        running.start(3)
        print(f"3 nodes up in {time.monotonic() - began:.1f} s")
        began = time.monotonic()
        running.import_subscribers([f"+{n},nl,51.88 4.46" for n in numbers()])
        print(f"{RECIPIENTS} subscribers imported in {time.monotonic() - began:.1f} s")
        yield running
    finally:
        running.stop()
        smsc.stop()
        cbc.stop()


def sms_first_parts(smsc: SmscProcess, since: int) -> list[str]:
    return [r["destination_addr"] for r in smsc.received()[since:]
            if not r["esm_class"] & 0x40 or bytes.fromhex(r["short_message"])[5] == 1]


async def holder_at(cluster: Cluster, alert_id: str, since: int, at: int) -> int:
    """Once ``at`` SMS of the fan-out are out, the node that holds it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while True:
        holder = cluster.node_holding(alert_id, "sms")
        if holder is not None and cluster.smsc.stats()["received"] - since >= at:
            return holder
        assert loop.time() < deadline, ("the fan-out never reached the kill point", holder,
                                        cluster.smsc.stats())
        await asyncio.sleep(0.05)


async def kill_five_times(cluster: Cluster, alert_id: str, since: int
                          ) -> list[tuple[int, int, str]]:
    """Seeds 1-5 each pick a point of the fan-out; at each, the node holding it dies
    (``kill -9``) and is started again, except at the third, where it is paused
    (``SIGSTOP``) past its lease and then resumed: a split brain the fence must stop."""
    points = sorted(random.Random(seed).randint(RECIPIENTS // 20, RECIPIENTS * 17 // 20)
                    for seed in SEEDS)
    events = []
    for number, point in enumerate(points, start=1):
        holder = await holder_at(cluster, alert_id, since, point)
        if number == 3:
            cluster.kill(holder, signal.SIGSTOP)
            await asyncio.sleep(LEASE_S + 2)  # its lease runs out; another node takes over
            cluster.kill(holder, signal.SIGCONT)
            events.append((point, holder, "paused"))
        else:
            cluster.kill(holder)
            cluster.restart(holder)
            events.append((point, holder, "killed"))
    return events


async def test_nodes_killed_mid_fan_out_lose_and_double_nothing(cluster: Cluster) -> None:
    sms_since = len(cluster.smsc.received())
    submits_since = cluster.smsc.stats()["received"]
    bodies: dict[str, bytes] = {}
    big = "EVERYONE"
    bodies[big] = short(alert(big, "Extreme"))
    for n in range(SEVERE):
        bodies[f"CB-{n}"] = alert(f"CB-{n}", "Severe")
    for n in range(ALERTS - len(bodies)):
        bodies[f"FILE-{n}"] = alert(f"FILE-{n}", "Moderate")
    ids: dict[str, str] = {}
    async with aiohttp.ClientSession() as session:
        ids[big] = await post_to(session, cluster.nodes[0], bodies[big])  # the fan-out starts first
        deaths = asyncio.create_task(kill_five_times(cluster, ids[big], submits_since))
        for position, name in enumerate(list(bodies)[1:], start=1):  # the rest, round-robin
            ids[name] = await post_anywhere(session, cluster, position, bodies[name])
    events = await deaths
    seen = await wait_final(cluster, list(ids.values()), timeout=300, final=FINAL)
    print(f"deaths (SMS out, node, how): {events}")

    # every delivery final and delivered; no acknowledged alert lost
    assert len(seen) == ALERTS
    states = collections.Counter(d["state"] for found in seen.values() for d in found.values())
    assert states == {"delivered": ALERTS}, states
    # every recipient exactly once, the dead node's unrecorded batch at most repeated
    sent = collections.Counter(sms_first_parts(cluster.smsc, sms_since))
    assert set(sent) == set(numbers())  # nobody lost
    repeated = sum(count - 1 for count in sent.values())
    print(f"{repeated} of {RECIPIENTS} recipients got the SMS twice over {len(events)} deaths")
    assert repeated <= len(events) * IN_FLIGHT
    # the paused node woke up fenced: it recorded nothing over the node that took over
    paused = next(node for _p, node, how in events if how == "paused")
    current = cluster.nodes[paused].log_path  # a later death restarts it on a new port:
    logs = sorted(current.parent.glob(current.name.rsplit("-", 1)[0] + "-*.log"))
    fenced = [line for log in logs for line in log.read_text(encoding="utf-8").splitlines()
              if line.startswith("{") and (entry := json.loads(line))
              and entry.get("event") == "delivery_lease_lost"
              and entry.get("alert_id") == ids[big]]
    assert fenced, "the paused node's outcome was not refused"
    # no cell-broadcast identifier held by two alerts; each alert written once
    log = cluster.cbc.call("GET", "/_mock/received")
    writes = [e for e in log if e["op"] == "write" and e["outcome"] == "created"]
    broadcast = {name: [e["message_id"] for e in writes if name in e.get("display", "")]
                 for name in bodies if name.startswith("CB-")}
    assert all(len(on) == 1 for on in broadcast.values()), (broadcast, log)
    assert len({on[0] for on in broadcast.values()}) == SEVERE  # one identifier each
    # every file delivery written, a second time only if a node died between writing it
    # and recording it (the idempotency key lets a reader drop the repeat)
    records = [json.loads(line) for i in range(3) if cluster.file_path(i).exists()
               for line in cluster.file_path(i).read_text(encoding="utf-8").splitlines()]
    written = collections.Counter(r["idempotency_key"] for r in records)
    ours = {f"{ids[n]}/file" for n in ids if n.startswith("FILE-")}
    assert ours <= set(written)
    again = [key for key in ours if written[key] > 1]
    print(f"{len(again)} file deliveries written twice over {len(events)} deaths")
    assert len(again) <= len(events) * MAX_IN_FLIGHT
