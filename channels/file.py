"""``file`` channel: append each alert as one JSON line to a file, synced to disk.

For audit trails, drills and tests: it is a real channel (the line is on disk
before ``send`` returns) with nothing to install. Idempotent: the keys already
in the file are read at start, so a retried or resumed send is recognised and
not written twice.

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
        self._lock = asyncio.Lock()

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

    def _append(self, record: dict[str, Any]) -> int:
        """Append one line and sync it; returns the file size after it."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            with self.config.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                if self.config.fsync:
                    os.fsync(handle.fileno())
                return handle.tell()
        except OSError as exc:
            if exc.errno in _TRANSIENT_ERRNOS:
                raise TransientError(f"{self.config.path}: {exc.strerror}",
                                     FailureReason.UNAVAILABLE) from exc
            raise PermanentError(f"{self.config.path}: {exc.strerror}",
                                 FailureReason.CONFIGURATION) from exc

    async def send(self, delivery: Delivery) -> Receipt:
        async with self._lock:
            if delivery.idempotency_key in self._written:
                return Receipt(self.name, delivery.idempotency_key,
                               reference=self._written[delivery.idempotency_key],
                               duplicate=True)
            alert = delivery.alert
            record = {
                "event": "alert", "idempotency_key": delivery.idempotency_key,
                "alert_id": delivery.alert_id, "channel": self.name,
                "written_at": datetime.now(UTC).isoformat(), "sender": alert.sender,
                "identifier": alert.identifier, "sent": alert.sent.isoformat(),
                "status": alert.status.value, "msg_type": alert.msg_type.value,
                "replaces": delivery.replaces.reference if delivery.replaces else None,
                "headlines": {info.effective_language: info.headline for info in alert.infos},
                "cap": delivery.raw.decode("utf-8", errors="replace"),
            }
            end = await asyncio.to_thread(self._append, record)
            self._written[delivery.idempotency_key] = f"end:{end}"
            return Receipt(self.name, delivery.idempotency_key, reference=f"end:{end}")

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:
        async with self._lock:
            await asyncio.to_thread(self._append, {
                "event": "cancel", "idempotency_key": delivery.idempotency_key,
                "cancels": receipt.idempotency_key, "alert_id": delivery.alert_id,
                "channel": self.name, "written_at": datetime.now(UTC).isoformat()})

    async def health(self) -> Health:
        directory = self.config.path.parent
        if directory.is_dir() and os.access(directory, os.W_OK):
            return Health(True, f"writing to {self.config.path}")
        return Health(False, f"{directory} is missing or not writable")
