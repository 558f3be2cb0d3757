"""``file`` channel: append each alert as one JSON line to a file, synced to disk.

For audit trails, drills and tests: it is a real channel (the line is on disk
before ``send`` returns) with nothing to install. Idempotent: the keys already
in the file are read at start, so a retried or resumed send is recognised and
not written twice.

Group sync: lines sent while a write is under way wait for it, then go to disk
together in one write and one ``fsync`` -- as a database's group commit -- so a burst
costs a sync per group, not per alert (one at a time, the file was the slowest of the
delivery bench's channels). Each ``send`` still returns only once its own line is
synced; a failed write fails every send of its group, and none of them is remembered
as written, so each is retried whole.

Configuration: ``path`` (required), ``fsync`` (default true).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from router.channel import (
    AreaKind,
    Capabilities,
    Delivery,
    FailureReason,
    Health,
    PermanentError,
    Receipt,
    TransientError,
)

_TRANSIENT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EAGAIN, errno.EDQUOT, errno.ENOENT,
                     errno.EINTR, errno.EBUSY}


class FileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: Path
    fsync: bool = True


class FileChannel:
    capabilities = Capabilities(area_kinds=frozenset({AreaKind.NONE}), supports_update=True,
                                supports_cancel=True, public=False)

    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        self.name = name
        self.config = FileConfig.model_validate(config)
        self._written: dict[str, str] = {}  # idempotency key -> where it was written
        self._writing: dict[str, asyncio.Future[int]] = {}  # keys of the group in flight
        self._queue: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._written = await asyncio.to_thread(self._scan)

    async def close(self) -> None:
        return None

    def _scan(self) -> dict[str, str]:
        try:
            text = self.config.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError:
            return {}  # unreadable (a directory, no permission): send() reports it
        seen: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write: it was never acknowledged
            if record.get("event") == "alert":
                seen.setdefault(record["idempotency_key"], f"line:{number}")
        return seen

    def _append(self, records: list[dict[str, Any]]) -> list[int]:
        """Append the lines and sync them once; returns the file size after each."""
        lines = [(json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8") for r in records]
        try:
            with self.config.path.open("ab") as handle:
                end = handle.seek(0, os.SEEK_END)
                handle.write(b"".join(lines))
                handle.flush()
                if self.config.fsync:
                    os.fsync(handle.fileno())
        except OSError as exc:
            if exc.errno in _TRANSIENT_ERRNOS:
                raise TransientError(f"{self.config.path}: {exc.strerror}",
                                     FailureReason.UNAVAILABLE) from exc
            raise PermanentError(f"{self.config.path}: {exc.strerror}",
                                 FailureReason.CONFIGURATION) from exc
        ends = []
        for line in lines:
            end += len(line)
            ends.append(end)
        return ends

    def _enqueue(self, record: dict[str, Any]) -> asyncio.Future[int]:
        """Queue one line for the next group; the future is its end once it is synced."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append((record, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_groups())
        return done

    async def _write_groups(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                ends = await asyncio.to_thread(self._append, [r for r, _ in group])
            except Exception as exc:  # every send of the group learns why
                for record, done in group:
                    self._writing.pop(record["idempotency_key"], None)
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (record, done), end in zip(group, ends, strict=True):
                if record["event"] == "alert":
                    self._written.setdefault(record["idempotency_key"], f"end:{end}")
                    self._writing.pop(record["idempotency_key"], None)
                if not done.done():
                    done.set_result(end)

    async def send(self, delivery: Delivery) -> Receipt:
        key = delivery.idempotency_key
        if key in self._written:
            return Receipt(self.name, key, reference=self._written[key], duplicate=True)
        if key in self._writing:  # the same key is in a group being written
            end = await asyncio.shield(self._writing[key])
            return Receipt(self.name, key, reference=f"end:{end}", duplicate=True)
        alert = delivery.alert
        done = self._writing[key] = self._enqueue({
            "event": "alert", "idempotency_key": key,
            "alert_id": delivery.alert_id, "channel": self.name,
            "written_at": datetime.now(UTC).isoformat(), "sender": alert.sender,
            "identifier": alert.identifier, "sent": alert.sent.isoformat(),
            "status": alert.status.value, "msg_type": alert.msg_type.value,
            "replaces": delivery.replaces.reference if delivery.replaces else None,
            "headlines": {info.effective_language: info.headline for info in alert.infos},
            "cap": delivery.raw.decode("utf-8", errors="replace"),
        })
        end = await asyncio.shield(done)  # a cancelled send's line is still written
        return Receipt(self.name, key, reference=f"end:{end}")

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:
        await asyncio.shield(self._enqueue({
            "event": "cancel", "idempotency_key": delivery.idempotency_key,
            "cancels": receipt.idempotency_key, "alert_id": delivery.alert_id,
            "channel": self.name, "written_at": datetime.now(UTC).isoformat()}))

    async def health(self) -> Health:
        directory = self.config.path.parent
        if directory.is_dir() and os.access(directory, os.W_OK):
            return Health(True, f"writing to {self.config.path}")
        return Health(False, f"{directory} is missing or not writable")
