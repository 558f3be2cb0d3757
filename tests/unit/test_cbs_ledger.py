"""The cell broadcast ledger's state machine: every transition, every refusal, the file
it keeps, and (hypothesis.stateful) the rule "never kill another live warning" over
random interleavings of sends, retries, cancels, lost answers and crashes, with the
ledger reloaded from its file (and cut back to what was fsynced) between steps."""

from __future__ import annotations

import asyncio
import functools
import shutil
import tempfile
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from channels.cell_broadcast import CellBroadcastChannel
from channels.cell_broadcast.ledger import FREE, Holding, Ledger, LedgerConflictError, Slot
from channels.cell_broadcast.transport import (
    CbcMessage,
    KillOutcome,
    OutcomeUnknownError,
    WriteOutcome,
)
from router.channel import Delivery, Health, Receipt
from router.errors import ChannelBusyError, FailureReason, TransientError
from tests.unit.test_cbs_channel import alert_delivery
from tests.unit.test_cbs_pools import CMAS, fire

T = TypeVar("T")
A = Holding("a/cb", "a/cb", "a", 0x4370, None)
B = Holding("b/cb", "b/cb", "b", 0x4380, None)


def reloaded(ledger: Ledger) -> Ledger:
    assert ledger.path is not None
    ledger.close()
    return Ledger(ledger.path)


def test_every_transition_from_every_state(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.jsonl")
    with pytest.raises(LedgerConflictError):
        ledger.begin_kill("4371")  # free: nothing of ours
    with pytest.raises(LedgerConflictError):
        ledger.confirm_write("4371", A.key)
    assert ledger.begin_write("4371", A).state == "writing"
    ledger = reloaded(ledger)  # a crash between the intent and the call
    assert ledger.slot("4371") == Slot(intent="write", pending=A)
    assert ledger.begin_write("4371", A).state == "writing"  # the retry of the same write
    with pytest.raises(LedgerConflictError):
        ledger.begin_write("4371", B)  # another alert: never on a slot that is not free
    with pytest.raises(LedgerConflictError):
        ledger.confirm_write("4371", B.key)
    assert ledger.write_unanswered("4371").unknown == 1
    assert ledger.confirm_write("4371", A.key) == Slot(confirmed=A)
    ledger = reloaded(ledger)
    assert ledger.slot("4371").state == "held"
    with pytest.raises(LedgerConflictError):
        ledger.begin_write("4371", B)
    with pytest.raises(LedgerConflictError):
        ledger.begin_kill("4371", chain=B.chain)  # only its own chain may kill it
    assert ledger.begin_kill("4371", chain=A.chain) == Slot(A, "kill")
    ledger = reloaded(ledger)  # a crash between the kill's intent and its answer
    assert ledger.slot("4371") == Slot(A, "kill")  # still knows what it was killing
    with pytest.raises(LedgerConflictError):
        ledger.begin_write("4371", B)
    assert ledger.confirm_kill("4371") == FREE
    ledger = reloaded(ledger)
    assert ledger.slot("4371") == FREE
    assert ledger.begin_write("4371", B).state == "writing"
    assert ledger.abandon_write("4371", B.key) == FREE  # a definite refusal
    assert ledger.begin_write("4371", B).state == "writing"
    assert ledger.begin_kill("4371", chain=B.chain) == Slot(None, "kill", B)
    assert ledger.find(B.key) == ("4371", Slot(None, "kill", B))
    assert reloaded(ledger).slot("4371") == Slot(None, "kill", B)


def written(path: Path) -> int:
    """Bytes of lines in the ledger file (it is zero-filled beyond them)."""
    return len(path.read_bytes().rstrip(b"\0"))


def test_intents_are_on_disk_before_the_call_and_a_torn_line_is_ignored(
        tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    ledger = Ledger(path)
    ledger.begin_write("4371", A)
    assert ledger.synced_bytes == written(path)  # fsynced before it returned
    ledger.confirm_write("4371", A.key)
    assert ledger.synced_bytes < written(path)  # confirmations ride on the next fsync
    ledger.close()
    end = written(path)
    with path.open("r+b") as handle:  # a crash mid write, into the zero-filled space
        handle.seek(end)
        handle.write(b'{"slot":"4372","intent":"wri')
    reread = Ledger(path)
    assert reread.slot("4371").state == "held"
    assert reread.slot("4372") == FREE
    reread.begin_write("4373", B)  # the next line goes over the torn one
    reread.close()
    assert Ledger(path).slot("4373") == Slot(intent="write", pending=B)
    assert Ledger(path).slot("4371").state == "held"


def test_the_file_is_compacted_and_keeps_every_slot(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("channels.cell_broadcast.ledger.COMPACT_AFTER_LINES", 20)
    path = tmp_path / "l.jsonl"
    ledger = Ledger(path)
    ledger.begin_write("4372", B)
    for _ in range(15):
        ledger.begin_write("4371", A)
        ledger.confirm_write("4371", A.key)
        ledger.begin_kill("4371")
        ledger.confirm_kill("4371")
    ledger.close()
    assert len(path.read_text().splitlines()) < 20
    assert Ledger(path).slot("4372") == Slot(intent="write", pending=B)
    assert Ledger(path).slot("4371") == FREE


def test_a_ledger_of_the_earlier_whole_file_form_is_read_and_rewritten(
        tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text('{"held": {"4371": {"key": "a/cb", "serial": 17264, "state": "active",'
                    ' "since": 1.0}, "4372": {"key": "b/cb", "serial": 17280, "state":'
                    ' "pending", "since": 2.0}}, "codes": {"4371": [[55, "a/cb", 1.0]]}}')
    ledger = Ledger(path)
    assert ledger.slot("4371") == Slot(confirmed=Holding("a/cb", "a/cb", "a", 17264))
    assert ledger.slot("4372") == Slot(intent="write", pending=Holding("b/cb", "b/cb", "b",
                                                                       17280))
    assert ledger.message_code(4371, "a/cb", 0, 1e12) == 55
    ledger.close()
    assert Ledger(path).slot("4371").state == "held"


class Crash(BaseException):
    """The process dies in the middle of a call (the channel cleans nothing up)."""


class FaultyCbc:
    """osmo-cbc's rules (one message per identifier, 409, 404) and its faults: an
    answer lost after the operation was applied, or lost with nothing applied, or the
    router dying before or after the request reached the CBC."""

    keyed_by_serial = False

    def __init__(self) -> None:
        self.active: dict[int, int] = {}  # identifier -> serial
        self.fault = "none"
        self.calls = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def health(self) -> Health:
        return Health(True, "faulty")

    def _take(self) -> str:
        fault, self.fault = self.fault, "none"
        self.calls += 1
        if fault == "crash_before":
            raise Crash
        return fault

    async def write(self, message: CbcMessage) -> WriteOutcome:
        fault = self._take()
        busy = message.message_id in self.active
        if not busy and fault != "not_applied":
            self.active[message.message_id] = message.serial.encode()
        return self._answer(fault, WriteOutcome.BUSY if busy else WriteOutcome.WRITTEN)

    async def kill(self, message_id: int, serial: int) -> KillOutcome:
        fault = self._take()
        found = message_id in self.active
        if found and fault != "not_applied":
            del self.active[message_id]
        return self._answer(fault, KillOutcome.KILLED if found else KillOutcome.UNKNOWN)

    @staticmethod
    def _answer(fault: str, outcome: T) -> T:
        if fault == "crash_after":
            raise Crash
        if fault in {"applied", "not_applied"}:
            raise OutcomeUnknownError("no answer", FailureReason.TIMEOUT)
        return outcome


@functools.cache
def sent(alert: int) -> Delivery:
    return alert_delivery(key=f"a{alert}/cb", raw=fire(alert))


FAULTS = st.sampled_from(["none", "none", "applied", "not_applied", "crash_before",
                          "crash_after"])
ALERTS = 4


class NeverKillALiveWarning(RuleBasedStateMachine):
    """Four Severe alerts compete for a two-member pool (4375, 4376)."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="cbs-ledger-"))
        (self.dir / "cmas.yaml").write_text(CMAS, encoding="utf-8")
        self.loop = asyncio.new_event_loop()
        self.cbc = FaultyCbc()
        self.channel = self._channel()
        self.delivered: dict[int, Receipt] = {}
        self.cancelling: set[int] = set()
        self.cancelled: set[int] = set()

    def _channel(self) -> CellBroadcastChannel:
        return CellBroadcastChannel("cb", {"url": "http://127.0.0.1:9", "deployment":
                                           str(self.dir / "cmas.yaml"), "state_file":
                                           str(self.dir / "ledger.jsonl")},
                                    transport=self.cbc)

    def _run(self, coroutine: object) -> object:
        try:
            return self.loop.run_until_complete(coroutine)  # type: ignore[arg-type]
        except Crash:
            self.restart(power_cut=False)
            return None
        except (TransientError, ChannelBusyError):
            return None

    @rule(alert=st.integers(0, ALERTS - 1), fault=FAULTS)
    def send(self, alert: int, fault: str) -> None:
        if alert in self.cancelled or alert in self.cancelling:
            return
        self.cbc.fault = fault
        receipt = self._run(self.channel.send(sent(alert)))
        if isinstance(receipt, Receipt):
            if alert in self.delivered:  # a retry: the same message, never a second one
                assert receipt.reference == self.delivered[alert].reference
            self.delivered[alert] = receipt

    @precondition(lambda self: self.delivered.keys() - self.cancelled)
    @rule(data=st.data(), fault=FAULTS)
    def cancel(self, data: st.DataObject, fault: str) -> None:
        alert = data.draw(st.sampled_from(sorted(self.delivered.keys() - self.cancelled)))
        self.cancelling.add(alert)
        self.cbc.fault = fault
        done = object()

        async def cancel() -> object:
            await self.channel.cancel(sent(alert), self.delivered[alert])
            return done
        if self._run(cancel()) is done:
            self.cancelling.discard(alert)
            self.cancelled.add(alert)
            [message] = self.delivered[alert].detail["messages"]
            assert self.cbc.active.get(message["message_id"]) != message["serial"]["encoded"]

    @rule(fault=FAULTS)
    def sweep(self, fault: str) -> None:
        self.cbc.fault = fault
        self._run(self.channel.sweep())

    @rule(power_cut=st.booleans())
    def restart(self, power_cut: bool) -> None:
        """The process dies (the OS keeps what was appended) or the power goes (only
        what was fsynced is left); the ledger is read back from its file."""
        ledger = self.channel.ledger
        synced = ledger.synced_bytes
        ledger.close()
        path = self.dir / "ledger.jsonl"
        if power_cut and path.exists():
            with path.open("r+b") as handle:
                handle.truncate(synced)
        self.channel = self._channel()

    @invariant()
    def no_live_warning_was_killed(self) -> None:
        for alert, receipt in self.delivered.items():
            if alert in self.cancelled or alert in self.cancelling:
                continue
            [message] = receipt.detail["messages"]
            assert self.cbc.active.get(message["message_id"]) == message["serial"]["encoded"], (
                f"alert {alert}'s live message on {message['message_id']} was killed")

    @invariant()
    def each_alert_is_on_air_at_most_once(self) -> None:
        assert len(set(self.cbc.active.values())) == len(self.cbc.active)

    def teardown(self) -> None:
        """Faults heal: every send and cancel converges, and the ledger agrees."""
        try:
            for _ in range(3):
                self.sweep("none")  # what start() does: finish kills left behind
                for alert in range(ALERTS):
                    self.send(alert, "none")
                for alert in sorted(self.cancelling):
                    self.cbc.fault = "none"
                    self.loop.run_until_complete(self.channel.cancel(
                        sent(alert), self.delivered[alert]))
                    self.cancelling.discard(alert)
                    self.cancelled.add(alert)
            self.no_live_warning_was_killed()
            on_air = set(self.cbc.active.items())
            held = {(int(name), slot.confirmed.serial) for name, slot in
                    self.channel.ledger.slots()
                    if slot.state == "held" and slot.confirmed is not None}
            assert held == on_air
            live = len(self.delivered.keys() - self.cancelled)
            assert live == len(on_air) <= 2
            assert all(slot.intent is None for _, slot in self.channel.ledger.slots())
        finally:
            self.release()

    def release(self) -> None:
        self.channel.ledger.close()
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)


NeverKillALiveWarning.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_never_kill_a_live_warning = NeverKillALiveWarning.TestCase
