"""``tocsin send`` against a real server: prints the status URL, reports rejections."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.integration.conftest import EXAMPLES
from tests.integration.server import DEV_KEY, REPO, Server


def send(server: Server, *args: str, key: str = DEV_KEY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", "send", *args, "--url", server.url],
        cwd=REPO, env={**os.environ, "TOCSIN_API_KEY": key}, capture_output=True, text=True,
        timeout=60, check=False)


def test_send_prints_status_url_and_wait_follows(server: Server) -> None:
    result = send(server, str(EXAMPLES / "nl-alert-fire.xml"), "--profile", "nl-alert")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(f"{server.url}/api/v1/alerts/")
    waited = send(server, str(EXAMPLES / "nl-alert-fire-update.xml"), "--wait",
                  "--timeout", "30")
    lines = waited.stdout.strip().splitlines()
    last = [line for line in lines if line.startswith("deliveries: ")][-1]
    assert "webhook=delivered" in last  # the demo's mock receiver took it
    assert "cell_broadcast=delivered" in last  # the demo's mock CBC took the update
    summary = next(line for line in lines if line.startswith("alert "))
    # channels whose adapters this build does not have yet fail (and say so): exit 1
    assert waited.returncode == (0 if summary.startswith("alert delivered:") else 1)
    assert ("=failed" in last) == summary.startswith("alert partially_delivered:")


def test_send_reports_rejection_with_findings(server: Server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.xml"
    bad.write_bytes((EXAMPLES / "nl-alert-fire.xml").read_bytes().replace(
        b"+01:00</sent>", b"Z</sent>"))
    result = send(server, str(bad))
    assert result.returncode == 1
    assert "rejected 422 cap.invalid" in result.stderr
    assert "cap.datetime-format" in result.stderr


def test_send_with_wrong_key(server: Server) -> None:
    result = send(server, str(EXAMPLES / "nl-alert-fire.xml"), key="wrong")
    assert result.returncode == 1
    assert "401 auth.invalid-key" in result.stderr
