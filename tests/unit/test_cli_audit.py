"""``tocsin audit`` without a store, with an older store, and with a bad anchor: exit 2
and a line that says which, never a traceback or a false "intact"."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from router.cli import main


def test_no_store_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--data-dir", str(tmp_path / "none")]) == 2
    assert "no store at" in capsys.readouterr().err


def test_a_store_without_a_trail_is_exit_2(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    sqlite3.connect(tmp_path / "tocsin.sqlite3").execute("CREATE TABLE alerts (seq)").close()
    assert main(["audit", "head", "--data-dir", str(tmp_path)]) == 2
    assert "has no audit trail" in capsys.readouterr().err


def test_a_malformed_anchor_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    assert main(["audit", "verify", "--data-dir", str(tmp_path), "--anchor", "7:abc"]) == 2
    assert "is not SEQ:HASH" in capsys.readouterr().err
