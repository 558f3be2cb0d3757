"""The benchmark scripts run to completion (their figures are read by people, not tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_cap_parse_benchmark_runs_and_reports_verdicts() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "cap_parse.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "medium tocsin / (lxml + XSD)" in result.stdout
    assert ("PASS" in result.stdout) or ("MISS" in result.stdout)


def test_fixtures_are_current() -> None:
    """bench/make_fixtures.py is the source of tests/fixtures/cap/*.xml."""
    result = subprocess.run([sys.executable, str(BENCH / "make_fixtures.py")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    diff = subprocess.run(["git", "diff", "--stat", "--", "tests/fixtures/cap"],
                          cwd=BENCH.parent, capture_output=True, text=True, check=False)
    assert diff.stdout == ""


def test_render_benchmark_runs_and_reports_verdict() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "render.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "render / parse" in result.stdout
    assert ("PASS" in result.stdout) or ("MISS" in result.stdout)


def test_sms_fanout_benchmark_runs_and_reports_verdicts() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "sms_fanout.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "recipients sent: 300" in result.stdout
    assert "Tocsin / ceiling" in result.stdout
    assert "projected for 1,000,000 recipients" in result.stdout


def test_ewss_geometry_benchmark_runs_and_reports_ratios() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "ewss_geometry.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "grid cost" in result.stdout
    assert "x the baseline" in result.stdout


def test_cell_broadcast_benchmark_runs_and_reports_ratios() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "cell_broadcast.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "encode 15 pages (1395 chars)" in result.stdout
    assert "of bare HTTP (median; rounds" in result.stdout


def test_wallet_benchmark_runs_and_reports_the_ratio() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "wallet.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "channel / bare" in result.stdout
    assert "pushes/s" in result.stdout


def test_signature_benchmark_runs_and_reports_the_ratio() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "signature.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "verification adds" in result.stdout
    assert ("PASS" in result.stdout) or ("MISS" in result.stdout)
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["bench"] == "signature"
    assert set(last) == {"bench", "metric", "value", "target", "pass"}


def test_hostile_requests_benchmark_runs_and_reports_figures() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "hostile_requests.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False,
                            cwd=BENCH.parent)
    assert result.returncode == 0, result.stderr
    assert "attributes: +" in result.stdout
    assert "SSE streams open" in result.stdout


def test_audit_append_benchmark_runs_and_reports_its_ratio() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "audit_append.py"), "--alerts", "40",
                             "--rounds", "2"], capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "audited / bare = " in result.stdout


def test_authz_benchmark_runs_and_reports_json_verdicts() -> None:
    result = subprocess.run([sys.executable, str(BENCH / "authz.py"), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "x parse+validate" in result.stdout
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["metric"] for line in lines] == ["authz_check_us", "parse_validate_us",
                                                  "authz_over_parse_validate"]
    assert all(line["bench"] == "authz" and line["value"] > 0 for line in lines)
    assert lines[0]["target"] == 50.0
    assert isinstance(lines[0]["pass"], bool)
