"""``tocsin serve`` with a PostgreSQL store that never answers says so and exits 1,
without a traceback, after waiting ``open_timeout_s`` for it (a database starting
together with the nodes has that long)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.server import REPO, free_port

pytestmark = pytest.mark.timeout(90)


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "serve", "--demo", "--port", str(free_port()),
         "--data-dir", str(tmp_path / "data"),
         "--store", f"postgresql://tocsin@127.0.0.1:{port}/tocsin"],
        cwd=REPO, capture_output=True, text=True, timeout=80, check=False,
        env={"PATH": "/usr/bin:/bin", "TOCSIN_STORE_OPEN_TIMEOUT_S": "2"})
    assert done.returncode == 1, done.stderr[-2000:]
    assert "the store could not be opened" in done.stderr
    assert f"port {port}" in done.stderr  # names where it looked
    assert "Traceback" not in done.stderr
