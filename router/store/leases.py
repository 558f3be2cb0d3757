"""Claims with a lease and a fencing token: how a delivery is owned while it is sent.

Stage: the store layer. When a dispatcher claims a due delivery it becomes ``sending``
with three facts beside it: ``lease_node`` (the node that claimed it), ``lease_expires``
(until when the claim holds unless renewed) and ``fence`` (a number raised by one at
every claim). The claiming node renews its leases while it lives; a node that dies or
stops (a crash, ``SIGSTOP``, a partition) stops renewing, and once the lease is past,
another node on a shared store claims the delivery again -- with a higher fence.

The fence is what makes the take-over safe. Every outcome a node records for a
delivery (an attempt, a wait for the channel, the claim of a batch of SMS or wallet
recipients) names the fence its claim got, and is stored only while the delivery
still has that fence, in the same statement that changes it. A node that wakes up
after its lease was taken over is refused (``LeaseLostError``) the first time it tries
to record anything, so it cannot overwrite the outcome of the node that took over, and
it stops its fan-out at the next batch: at most the batch it had in flight is sent
twice, as after a crash on one node.

SQLite has one node by construction (the data directory is locked), so it never takes
over a live lease: a crashed node's deliveries come back at start-up
(``release_in_flight``). PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``, so nodes
claiming together take different rows without waiting for each other.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from router.store.sql import Connection

LEASE_LOST = "lease_lost"
"""What an audience's ``interrupted`` says when its delivery was taken over."""

DEFAULT_LEASE_S = 30.0
"""How long a claim holds without renewal. Renewed every third of it, so a node must
miss two renewals in a row (10 s stalls) before another may take over; and a dead
node's deliveries go out again within this many seconds."""


def node_id() -> str:
    """A name for this process as a claimant: host, PID and a random part (a PID is
    reused after a restart; the claim of the process before must not look like ours)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ClaimPolicy:
    """How one store claims due deliveries."""

    node: str
    lease_s: float = DEFAULT_LEASE_S
    reclaim_expired: bool = False  # take over ``sending`` deliveries whose lease ran out
    skip_locked: bool = False  # ``FOR UPDATE SKIP LOCKED`` (PostgreSQL)


def claim_taken_over(conn: Connection, delivery_key: str, fence: int) -> bool:
    """True when the delivery ``delivery_key`` is no longer held with ``fence`` (another
    node claimed it since). ``fence`` 0 is a delivery not claimed through ``claim_due``
    (a test, a tool): never taken over. Read in the transaction that records a batch of
    recipients, so a batch is claimed or recorded only under the claim that holds it."""
    if not fence:
        return False
    row = conn.execute("SELECT fence FROM deliveries WHERE idempotency_key = ?",
                       (delivery_key,)).fetchone()
    return row is not None and int(row[0]) != fence
