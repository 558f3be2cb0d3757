"""One data directory, one server: an exclusive lock taken before anything is opened.

Stage: CLI (``tocsin serve``). Two servers on one data directory would share the
SQLite file (WAL makes that *work*, which is the danger), rewrite each other's
demo keys and files, and both dispatch the same deliveries. ``fcntl.flock`` on
``<data_dir>/tocsin.lock`` is held for the life of the process and released by
the kernel however the process ends (``kill -9`` included), so a stale lock file
never blocks a restart. The file holds the holder's PID, which the refused
second process reports. flock is advisory and per host: a data directory on a
network file system shared between machines is not protected by it (that
deployment uses the shared PostgreSQL store instead).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_NAME = "tocsin.lock"


class DataDirLockedError(Exception):
    """Another process holds the data directory."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"data directory {path.parent} is in use: {path} is held by "
                         f"process {holder or '(unknown PID)'}; stop that server first, or "
                         "give this one its own --data-dir")
        self.holder = holder


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Take the lock (creating the directory); keep the returned file open to hold it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    handle = path.open("a+", encoding="ascii")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise DataDirLockedError(path, holder) from exc
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    os.fsync(handle.fileno())
    return handle
