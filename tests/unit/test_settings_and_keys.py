"""Settings precedence and validation, and ``tocsin keys``."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from pydantic import ValidationError

from router.app import dispatch_settings
from router.cli import main
from router.settings import hash_api_key, load_settings


def test_flags_beat_environment_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    config = tmp_path / "t.yaml"
    config.write_text("port: 7001\nhost: 10.0.0.1\nlog_level: debug\n", encoding="utf-8")
    monkeypatch.setenv("TOCSIN_PORT", "7002")
    settings = load_settings(config, host="127.0.0.2")
    assert (settings.host, settings.port, settings.log_level) == ("127.0.0.2", 7002, "debug")


def test_the_send_timeout_setting_reaches_the_dispatcher(tmp_path: Path) -> None:
    config = tmp_path / "t.yaml"
    config.write_text("dispatch_send_timeout_s: 45\n", encoding="utf-8")
    assert dispatch_settings(load_settings(config)).send_timeout_s == 45
    assert dispatch_settings(load_settings(None)).send_timeout_s == 30  # the default
    config.write_text("dispatch_send_timeout_s: 0\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="dispatch_send_timeout_s"):
        load_settings(config)


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "t.yaml"
    config.write_text("prot: 7001\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="prot"):
        load_settings(config)


def test_plain_key_instead_of_hash_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "t.yaml"
    config.write_text("authorities:\n  - {name: a, senders: ['*'], key_hashes: [secret]}\n",
                      encoding="utf-8")
    with pytest.raises(ValidationError, match="sha256"):
        load_settings(config)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``tocsin serve`` configures structlog for the process; undo it for later tests."""
    yield
    structlog.reset_defaults()


@pytest.mark.usefixtures("restore_logging")
def test_serve_reports_bad_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    config = tmp_path / "t.yaml"
    config.write_text(f"default_profile: nope\nroutes_file: {tmp_path / 'missing.yaml'}\n",
                      encoding="utf-8")
    assert main(["serve", "--config", str(config), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "missing.yaml" in err
    assert "'nope' is not loaded" in err


def test_keys_new_prints_a_key_and_its_hash(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "new", "--data-dir", str(tmp_path)]) == 0
    lines = dict(line.split(":  " if line.startswith("key") else ": ", 1)
                 for line in capsys.readouterr().out.splitlines())
    assert hash_api_key(lines["key"]) == lines["hash"]


def test_keys_hash_reads_stdin(monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("abc\n"))
    assert main(["keys", "hash"]) == 0
    assert capsys.readouterr().out.strip() == hash_api_key("abc")
