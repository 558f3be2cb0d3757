"""Run ``tocsin serve`` as a real process on 127.0.0.1 and a free port, for tests.

The process is started with the interpreter running the tests, in the
repository root (so ``config/routes.yaml`` is found), and stopped by its PID.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEV_KEY = "test-dev-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {DEV_KEY}", "Content-Type": "application/cap+xml"}

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        return self.proc.wait(timeout=timeout)


def start_server(data_dir: Path, *, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = (), timeout: float = 30) -> Server:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-server-{port}.log"
    full_env = {**os.environ, "TOCSIN_DEV_API_KEY": DEV_KEY, "PYTHONUNBUFFERED": "1",
                "PYTHONFAULTHANDLER": "1",  # a native crash leaves its stack in the log
                **(env or {})}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "router.cli", "serve", "--demo", "--host", "127.0.0.1",
             "--port", str(port), "--data-dir", str(data_dir), *args],
            cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(proc, port, data_dir, log_path)
    try:
        _wait_ready(server, timeout)
    except BaseException:
        if proc.poll() is None:  # never leave a server running behind a failed start
            server.stop(signal.SIGKILL)
        raise
    return server


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"tocsin serve exited {server.proc.returncode}:\n"
                               + server.log_path.read_text(encoding="utf-8"))
        try:
            with urllib.request.urlopen(f"{server.url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError,
                http.client.HTTPException):  # not up yet, or not this server answering
            pass
        time.sleep(0.1)
    raise RuntimeError("tocsin serve did not become ready:\n" + server.log_path.read_text())
