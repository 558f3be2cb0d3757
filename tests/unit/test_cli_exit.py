"""How the ``tocsin`` command ends: with ``main``'s status, its output flushed, and
without interpreter finalization, where the SMPP library's runtime threads aborted a
cleanly stopped server one time in ten (``router.cli.run``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROGRAM = """
import atexit, sys
atexit.register(lambda: print("finalized", flush=True))
sys.argv = ["tocsin", "validate", sys.argv[1]]
import router.cli
router.cli.run()
"""


@pytest.mark.parametrize(("name", "status"), [
    ("config/examples/nl-alert-exercise.xml", 0), ("not-cap.xml", 2)])
def test_the_command_ends_with_its_status_flushed_and_without_finalizing(
        tmp_path: Path, name: str, status: int) -> None:
    path = REPO / name
    if not path.exists():
        path = tmp_path / name
        path.write_text("<x/>", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == status, done.stderr
    assert str(path) in done.stdout  # written before the process ended, not lost
    assert "finalized" not in done.stdout  # the interpreter was not torn down
