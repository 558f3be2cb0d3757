"""``tocsin validate``: exit status 0 valid / 1 findings with errors / 2 unreadable input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from router.cli import main

GOOD = b"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>T-1</identifier><sender>a@example.nl</sender>
  <sent>2026-11-25T10:00:00+01:00</sent><status>Test</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><category>Safety</category><event>Test</event><urgency>Unknown</urgency>
    <severity>Unknown</severity><certainty>Unknown</certainty></info>
</alert>"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "good": GOOD,
        "invalid": GOOD.replace(b"<scope>Public</scope>", b"<scope>Restricted</scope>"),
        "hostile": b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
    }
    result = {}
    for name, data in paths.items():
        result[name] = tmp_path / f"{name}.xml"
        result[name].write_bytes(data)
    return result


@pytest.mark.parametrize(
    ("names", "status"),
    [(["good"], 0), (["invalid"], 1), (["hostile"], 2), (["good", "invalid"], 1),
     (["invalid", "hostile", "good"], 2)],
)
def test_exit_status_is_the_worst_over_all_files(
    files: dict[str, Path], names: list[str], status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", *(str(files[n]) for n in names)]) == status
    out = capsys.readouterr().out
    for name in names:
        assert str(files[name]) in out


def test_text_output_names_the_finding(files: dict[str, Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    main(["validate", str(files["invalid"])])
    out = capsys.readouterr().out
    assert "INVALID" in out
    assert "cap.restriction.required" in out
    assert "/alert/restriction" in out


def test_json_output_is_machine_readable(files: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["validate", "--format", "json", str(files["good"]), str(files["hostile"])])
    report = json.loads(capsys.readouterr().out)
    assert status == 2
    assert report["profile"] == "cap12"
    good, hostile = report["results"]
    assert good.pop("signature")["state"] == "unsigned"
    assert good == {"file": str(files["good"]), "valid": True, "readable": True,
                    "cap_version": "1.2", "findings": []}
    assert hostile["readable"] is False
    assert [f["code"] for f in hostile["findings"]] == ["xml.dtd-forbidden"]


def test_profile_option_applies_the_profile(files: dict[str, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--profile", "nl-alert", str(files["good"])]) == 1
    assert "profile.nl-alert.languages" in capsys.readouterr().out


def test_unknown_profile_is_unreadable_input(files: dict[str, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--profile", "nope", str(files["good"])]) == 2
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_missing_file_and_size_limit(files: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "absent.xml")]) == 2
    assert "file.unreadable" in capsys.readouterr().out
    assert main(["validate", "--max-bytes", "100", str(files["good"])]) == 2
    assert "xml.too-large" in capsys.readouterr().out


def test_console_script_runs_as_a_process(files: dict[str, Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "validate", str(files["invalid"])],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "cap.restriction.required" in result.stdout
