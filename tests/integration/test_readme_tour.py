"""The README's tour works when pasted: every command of its code blocks, in order,
against a real demo server.

The tour is the README from ``<!-- section: tour`` to the next ``## `` heading. Every
``sh`` block there is run, unless the line before it says ``<!-- tour: skip (why) -->``
(reference material, not a tour step) or ``<!-- tour: server ... -->`` (the demo
server the tour starts in its first terminal: started here as that block says, with
its environment, on a free port). The blocks run as one bash script with
``set -euo pipefail`` in a directory laid out like a checkout after ``make run``
(``.venv/bin/tocsin`` and ``config/``), with ``TOCSIN_URL`` naming the server, as the
tour tells a reader whose port 8080 is taken.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.integration.server import REPO, start_server

_MARKER = re.compile(r"<!-- tour: (skip|server)\b")
_FENCE = re.compile(r"^```(\w*)\s*$")


def tour_blocks(readme: str) -> tuple[list[str], list[str]]:
    """(server blocks, blocks to run), each a block's text; fails on a block that is
    neither run, nor marked, nor configuration."""
    start = readme.index("<!-- section: tour")
    end = readme.index("\n## ", readme.index("\n## ", start) + 1)
    lines = readme[start:end].splitlines()
    servers: list[str] = []
    runs: list[str] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        closing = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        body = "\n".join(lines[index + 1:closing])
        marker = _MARKER.search(lines[index - 1]) if index else None
        kind = fence.group(1)
        if kind in ("yaml", "json", "text"):
            pass  # configuration or a diagram shown, not commands
        elif kind != "sh":
            raise AssertionError(f"tour block of kind {kind!r}: mark it or make it sh")
        elif marker is None:
            runs.append(body)
        elif marker.group(1) == "server":
            servers.append(body)
        index = closing + 1
    return servers, runs


def _server_env(block: str) -> dict[str, str]:
    """``VAR=value make run`` -> {VAR: value}: the environment the tour starts it with."""
    words = shlex.split(block, comments=True)
    assert words[-2:] == ["make", "run"], block
    return dict(word.split("=", 1) for word in words[:words.index("make")])


def _get(url: str, key: str) -> dict[str, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, object] = json.loads(answer.read())
        return result


def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    servers, runs = tour_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(servers) == 1
    assert runs
    env = _server_env(servers[0])
    server = start_server(tmp_path / "data", env=env)
    try:
        checkout = tmp_path / "checkout"
        (checkout / ".venv" / "bin").mkdir(parents=True)
        (checkout / ".venv" / "bin" / "tocsin").symlink_to(Path(sys.executable).parent
                                                          / "tocsin")
        (checkout / "config").symlink_to(REPO / "config")
        script = "set -euo pipefail\n" + "\n".join(runs) + "\n"
        result = subprocess.run(
            ["bash", "-c", script], cwd=checkout, capture_output=True, text=True, timeout=60,
            env={**os.environ, "TOCSIN_URL": server.url, "PYTHONPATH": str(REPO)},
            check=False)
        assert result.returncode == 0, (result.stdout, result.stderr)
        fire_url = next(line for line in result.stdout.splitlines()
                        if line.startswith(f"{server.url}/api/v1/alerts/"))
        key = env["TOCSIN_DEV_API_KEY"]
        fire = _get(fire_url, key)
        assert f'"id":"{fire["id"]}"' in result.stdout.replace(" ", "")  # the curl found it
        assert fire["lifecycle"] == "superseded"
        assert fire["profile"] == "nl-alert"
        listed = _get(f"{server.url}/api/v1/alerts", key)
        items = listed["items"]
        assert isinstance(items, list)
        assert [(item["msg_type"], item["lifecycle"], item["profile"]) for item in items] == [
            ("Alert", "superseded", "nl-alert"), ("Update", "cancelled", "nl-alert"),
            ("Cancel", "accepted", "nl-alert")]
        assert "via references" in result.stdout
    finally:
        server.stop(signal.SIGKILL)


def test_a_busy_port_names_the_setting_instead_of_a_traceback(tmp_path: Path) -> None:
    """``make run`` (``tocsin serve --demo``) when something listens on its port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "router.cli", "serve", "--demo", "--port", str(port),
             "--data-dir", str(tmp_path / "data")], cwd=REPO, capture_output=True,
            text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
    assert "TOCSIN_PORT" in result.stderr
