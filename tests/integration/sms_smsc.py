"""The sandbox SMSC (``channels.mock.smsc``: the smpp34 library's SMPP server) as a real
process on 127.0.0.1 and free ports, for the SMS tests, the contract suite and the bench.
Stopped by PID; ``restart`` brings it back on the same ports (a crash and recovery)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.integration.server import REPO, free_port


class SmscProcess:
    def __init__(self, record: Path | None = None) -> None:
        self.smpp_port = free_port()
        self.control_port = free_port()
        self.record = record
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        args = [sys.executable, "-m", "channels.mock.smsc", "--smpp-port", str(self.smpp_port),
                "--control-port", str(self.control_port)]
        if self.record is not None:
            args += ["--record", str(self.record)]
        self.proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the sandbox SMSC exited {self.proc.returncode}")
            try:
                self.call("GET", "/_mock/health")
            except OSError:
                time.sleep(0.1)
            else:
                return
        self.stop()
        raise RuntimeError("the sandbox SMSC did not start")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.control_port}{path}",
                                         data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def received(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.call("GET", "/_mock/received")
        return items

    def stats(self) -> dict[str, int]:
        stats: dict[str, int] = self.call("GET", "/_mock/stats")
        return stats

    def faults(self, **spec: Any) -> None:
        self.call("PUT", "/_mock/faults", spec)

    def stop(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def smsc(record: Path | None = None) -> Iterator[SmscProcess]:
    process = SmscProcess(record)
    try:
        yield process
    finally:
        process.stop()
