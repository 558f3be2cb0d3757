"""``config/tocsin.example.yaml`` starts as shipped: ``tocsin serve --config`` on a copy
of ``config/`` (as the container has it) becomes ready and drains on SIGTERM. Before,
it exited 2 because the shipped routes named channels it did not configure."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.integration.server import REPO, free_port


def test_the_example_settings_start_as_shipped(tmp_path: Path) -> None:
    shutil.copytree(REPO / "config", tmp_path / "config")
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "TOCSIN_PORT": str(port), "PYTHONPATH": str(REPO)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "router.cli", "serve", "--config",
             "config/tocsin.example.yaml"], cwd=tmp_path, env=env, stdout=out,
            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        ready = False
        while time.monotonic() < deadline and proc.poll() is None and not ready:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz",
                                            timeout=2) as answer:
                    ready = answer.status == 200
            except OSError:
                time.sleep(0.1)
        assert ready, log.read_text(encoding="utf-8")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text(encoding="utf-8")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert (tmp_path / "data" / "tocsin.sqlite3").is_file()
