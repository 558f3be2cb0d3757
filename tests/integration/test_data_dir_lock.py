"""One data directory, one server: a second ``tocsin serve`` on a data directory a
running server holds exits 2 at once and names the PID holding it, and the first
keeps serving; once the first is gone the directory can be taken again."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.integration.server import DEV_KEY, REPO, free_port, start_server


def second_serve(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", "serve", "--demo", "--host", "127.0.0.1",
         "--port", str(free_port()), "--data-dir", str(data_dir)],
        cwd=REPO, env={**os.environ, "TOCSIN_DEV_API_KEY": DEV_KEY}, capture_output=True,
        text=True, timeout=30, check=False)


def test_second_server_on_the_same_data_dir_exits_2_naming_the_holder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_server(data_dir)
    try:
        second = second_serve(data_dir)
        with urllib.request.urlopen(f"{first.url}/readyz", timeout=5) as response:
            still_ready = response.status
    finally:
        first.stop()
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"held by process {first.proc.pid}" in second.stderr
    assert str(data_dir) in second.stderr
    assert still_ready == 200
    assert "service.started" not in second.stdout  # it never opened the store or a port


def test_data_dir_is_free_again_after_the_holder_stops(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    start_server(data_dir).stop()
    again = start_server(data_dir)  # the lock file stays; the lock does not
    again.stop()
    assert again.proc.returncode == 0
