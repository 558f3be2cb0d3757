"""Every benchmark runs to completion and reports its verdicts (a smoke run, tiny sizes).

The figures are read by people (``make bench``), not asserted here: these tests only
prove that each bench still runs, prints the lines its README figures come from, and
ends with well-formed JSON verdict lines (``bench/verdicts.py``) — so a bench that no
longer runs fails the suite instead of being found broken when someone needs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
from collect import benches, table, verdict_lines  # noqa: E402  (bench/ is not a package)

# bench file -> (lines its human-readable output must contain, metrics its verdicts name)
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "audit_append.py": (["audited / bare = "], ["audited_over_bare"]),
    "authz.py": (["x parse+validate"],
                 ["authz_check_us", "parse_validate_us", "authz_over_parse_validate"]),
    "cap_parse.py": (["per-alert time in microseconds", "stage by stage"],
                     ["medium_over_lxml_xsd", "large_over_lxml_xsd"]),
    "cell_broadcast.py": (["encode 15 pages (1395 chars)", "of bare HTTP (median; rounds"],
                          ["encode_15_pages_over_gsm0338", "channel_over_bare_http"]),
    "console.py": (["time to first render in headless Chromium", "202 -> row on the open",
                    "preview round-trip after a text edit"],
                   ["compose_first_render_ms", "alert_first_render_ms",
                    "dashboard_many_alerts_ms", "dashboard_update_ms",
                    "preview_round_trip_p95_ms"]),
    "dispatch.py": (["ingest only:", "202 -> delivered:", "deliveries/s:", "pushes/s:",
                     "backlog at the end"],
                    ["ingest_only_alerts_per_s", "delivered_over_ingest_only",
                     "wallet_pushes_per_s",
                     "p99_202_to_first_call_ms", "deliveries_over_bare_post_loop",
                     "backlog_zero_after_load_s"]),
    "ewss_geometry.py": (["grid cost", "x the baseline"], []),
    "hostile_requests.py": (["attributes: +", "SSE streams open"],
                            ["attribute_flood_peak_rss_kib", "sse_streams_open"]),
    "feeds.py": (["POST, one at a time:", "from the feed:", "ms CPU per poll",
                  "static file, same app:", "public feed:"],
                 ["feed_over_post", "cpu_ms_per_304_poll", "public_feed_over_static"]),
    "ingest.py": (["req/s"], ["tocsin_over_bare", "tocsin_p99_ms", "ingest_only_over_bare"]),
    "nodes.py": (["os.cpu_count() = ", "202 -> first webhook call", "claim_due / bare = "],
                 ["pg_1_over_sqlite_1", "pg_3_over_pg_1", "pg_p99_202_to_first_call_ms",
                  "claim_due_over_bare"]),
    "render.py": (["render / parse"], ["render_over_parse"]),
    "signature.py": (["verification adds"], ["verification_added_over_unsigned"]),
    "sms_fanout.py": (["recipients sent: 300", "projected for 1,000,000 recipients"],
                      ["tocsin_over_smpp_ceiling", "peak_rss_growth_mb"]),
    "wallet.py": (["channel / bare", "pushes/s"], ["channel_over_bare_post_loop"]),
}


def test_every_bench_has_a_smoke_run() -> None:
    """A new bench without a case here fails, so it cannot be forgotten."""
    assert sorted(p.name for p in benches()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bench_runs_and_reports_json_verdicts(name: str) -> None:
    result = subprocess.run([sys.executable, str(BENCH / name), "--quick"],
                            capture_output=True, text=True, timeout=300, check=False,
                            cwd=BENCH.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    lines, metrics = EXPECTED[name]
    for line in lines:
        assert line in result.stdout, f"{name} no longer prints {line!r}"
    found = verdict_lines(result.stdout)
    assert found, f"{name} printed no JSON verdict line"
    stem = name.removesuffix(".py")
    assert all(item["bench"] == stem for item in found)
    assert all(isinstance(item["value"], float | int) for item in found)
    for item in found:
        # a target is a comparison and a pass is a bool, or both null (a figure)
        assert (item["target"] is None) == (item["pass"] is None), item
        if item["target"] is not None:
            assert item["target"].split()[0] in ("<=", ">="), item
            assert isinstance(item["pass"], bool)
    named = [item["metric"] for item in found]
    assert [m for m in metrics if m not in named] == []


def test_collect_reads_verdicts_and_tabulates_them() -> None:
    output = "\n".join([
        "some human line",
        json.dumps({"bench": "x", "metric": "ratio", "value": 0.1, "target": ">= 0.2",
                    "pass": False}),
        json.dumps({"bench": "x", "metric": "rate", "value": 12.0, "target": None,
                    "pass": None}),
        '{"not": "a verdict"}'])
    rows: list[dict[str, Any]] = verdict_lines(output)
    assert [r["metric"] for r in rows] == ["ratio", "rate"]
    text = table(rows)
    assert "MISS" in text
    assert "info" in text


def test_fixtures_are_current() -> None:
    """bench/make_fixtures.py is the source of tests/fixtures/cap/*.xml."""
    result = subprocess.run([sys.executable, str(BENCH / "make_fixtures.py")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    diff = subprocess.run(["git", "diff", "--stat", "--", "tests/fixtures/cap"],
                          cwd=BENCH.parent, capture_output=True, text=True, check=False)
    assert diff.stdout == ""
