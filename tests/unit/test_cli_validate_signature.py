"""``tocsin validate --trust-store``: the signature line and the exit status of each case."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from router.cli import main
from tests.signing import Pki, make_pki
from tests.unit.test_signature import CASES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def trust(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("trust-dir")
    (directory / "root.pem").write_bytes(pki.ca.pem)
    return directory


def _exit(state: str, profile: str) -> int:
    if state == "invalid" or (state == "untrusted" and profile != "cap12"):
        return 1
    return 0


@pytest.mark.parametrize("profile", ["nl-alert", "cap12"])
@pytest.mark.parametrize(("make", "state", "code"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_validate_prints_the_verdict(make, state, code, profile: str, pki: Pki,  # type: ignore[no-untyped-def]
                                     trust: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alert.xml"
    path.write_bytes(make(pki))
    status = main(["validate", "--profile", profile, "--trust-store", str(trust), str(path)])
    out = capsys.readouterr().out
    assert status == _exit(state, profile), out
    assert f"  signature: {state}" in out
    if code:
        assert code in out


def test_validate_json_carries_the_signature(pki: Pki, trust: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    make = CASES[2][1]  # expired now, valid at <sent>
    path = tmp_path / "alert.xml"
    path.write_bytes(make(pki))
    assert main(["validate", "--format", "json", "--trust-store", str(trust), str(path)]) == 0
    signature = json.loads(capsys.readouterr().out)["results"][0]["signature"]
    assert signature["state"] == "verified"
    assert signature["certificate_sha256"] == pki.expired.sha256
    assert signature["mode"] == "valid-at-sent"
    assert signature["judged_at"].startswith("2020-06-01T12:00:00")


def test_validate_as_a_process(pki: Pki, trust: Path, tmp_path: Path) -> None:
    """The installed command line, as an operator runs it, with a bad trust store too."""
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(CASES[5][1](pki))
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "validate", "--trust-store", str(trust),
         str(tampered)], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    assert "signature: invalid" in result.stdout
    assert "signature.digest-mismatch" in result.stdout
    assert "Traceback" not in result.stderr
    bad = tmp_path / "bad.pem"
    bad.write_text("nope", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "validate", "--trust-store", str(bad),
         str(tampered)], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "bad.pem" in result.stderr
