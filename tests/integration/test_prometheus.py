"""The dashboard and the alerting rules against a real Prometheus scraping a real Tocsin.

``prometheus`` (the Debian package, see scripts/debian-packages.txt) runs as a
process on 127.0.0.1 with a 1 s scrape and evaluation interval and the
repository's own ``config/prometheus/rules.yml``. Tocsin runs in demo mode
(file and mock webhook channels in-process; the routes' other channels have no
instance yet, so their deliveries fail with ``configuration`` and wake the EWSS
fallback). The test drives accepted, rejected, retried, expired and fallen-back
deliveries, with the webhook broken through the mock's fault API so that its
breaker opens, then evaluates every PromQL expression in the dashboard JSON and
the rules file through Prometheus' HTTP API and checks each returns data, and
that the alerts the traffic should raise are pending or firing.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from router.observability.dashboard import expressions
from tests.integration.conftest import EXAMPLES, make_alert
from tests.integration.server import REPO, Server, free_port, start_server
from tests.integration.test_dispatch_flow import with_expiry

pytestmark = pytest.mark.slow

RULES = REPO / "config" / "prometheus" / "rules.yml"
RULE_TESTS = REPO / "config" / "prometheus" / "rules_test.yml"
DASHBOARD = REPO / "config" / "grafana" / "dashboards" / "tocsin.json"
FAST = {"TOCSIN_DISPATCH_POLL_INTERVAL_S": "0.05", "TOCSIN_DISPATCH_RETRY_MULTIPLIER_S": "0.05",
        "TOCSIN_DISPATCH_RETRY_MAX_S": "0.2", "TOCSIN_DISPATCH_BREAKER_FAILURES": "2",
        "TOCSIN_DISPATCH_BREAKER_RESET_S": "600"}
DRIVEN_ALERTS = {"TocsinChannelDown", "TocsinBreakerOpen", "TocsinRejectionsSpiking",
                 "TocsinFallbackActivated", "TocsinDeliveriesExpired", "TocsinFeedSilent"}
FEEDS = ("mock-feed", "silent-feed")
"""The stack polls the mock feed server (one alert) and a port where nothing listens."""
COMPARISON = re.compile(r"\s*(==|!=|>=|<=|>|<)\s*[-+]?[\d.]+(e[-+]?\d+)?\s*$")


def program(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: apt-get install prometheus (scripts/debian-packages.txt)"
    return path


@dataclass
class Prometheus:
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector for ``expr`` (asserting Prometheus evaluated it)."""
        answer = self.api("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert answer["status"] == "success", (expr, answer)
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def api(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            result: dict[str, Any] = json.load(response)
            return result

    def wait_for(self, expr: str, timeout: float = 60) -> list[dict[str, Any]]:
        """Bounded: poll until ``expr`` has data, else fail with the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"no data for {expr} after {timeout} s:\n"
                             + self.log_path.read_text(encoding="utf-8")[-3000:])


def start_prometheus(directory: Path, target_port: int, timeout: float = 60) -> Prometheus:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "rule_files": [str(RULES)],
              "scrape_configs": [{"job_name": "tocsin", "metrics_path": "/metrics",
                                  "static_configs": [
                                      {"targets": [f"127.0.0.1:{target_port}"]}]}]}
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    log_path = directory / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [program("prometheus"), f"--config.file={directory / 'prometheus.yml'}",
             f"--storage.tsdb.path={directory / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT)
    prom = Prometheus(proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text(encoding="utf-8")
        try:
            with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return prom
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("prometheus did not become ready:\n" + log_path.read_text())


def mock_url(server: Server) -> str:
    started = next(line for line in server.log_lines() if line.get("event") == "service.started")
    elements = started["mock_elements"]
    assert isinstance(elements, dict)
    return str(elements["webhook"])


async def drive(server: Server) -> None:
    """Accepted, duplicate, rejected (422 and 401), delivered, failed with fallback,
    retried until the breaker opens, and expired deliveries."""
    exercise = (EXAMPLES / "nl-alert-exercise.xml").read_bytes()
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async def post(body: bytes, headers: dict[str, str] | None = None) -> int:
            async with session.post(f"{server.url}/api/v1/alerts", data=body,
                                    headers=headers) as response:
                return response.status

        assert await post(exercise) == 202
        assert await post(exercise) == 200
        assert await post(make_alert("PROM-FIRE-1")) == 202
        for n in range(30):
            bad = make_alert(f"PROM-BAD-{n}").replace(b"+01:00</sent>", b"Z</sent>")
            assert await post(bad) == 422
        for _ in range(3):
            assert await post(exercise, {"Authorization": "Bearer wrong"}) == 401
        async with session.put(f"{mock_url(server)}/_mock/faults",
                               json={"mode": "fail", "status": 503}) as response:
            assert response.status == 200
        assert await post(with_expiry("PROM-EXPIRES-1", 3)) == 202
        assert await post(with_expiry("PROM-EXPIRES-2", 3)) == 202
        await asyncio.sleep(4)  # both reach their <expires> while the webhook fails


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Prometheus]]:
    base = tmp_path_factory.mktemp("prometheus")
    (base / "a-directory").mkdir()
    # a cell_broadcast instance that fails permanently (its path is a directory), so
    # error, failure and fallback series carry data whatever the demo's mocks do
    failing = {"cell_broadcast": {"type": "file", "path": str(base / "a-directory")}}
    feed_dir = base / "feed"
    feed_dir.mkdir()
    (feed_dir / "one.xml").write_bytes(make_alert("PROM-FEED-1"))
    feed_port = free_port()
    feed_server = subprocess.Popen(
        [sys.executable, "-m", "channels.mock.feed_server", "--dir", str(feed_dir), "--port",
         str(feed_port)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    feeds = [{"name": FEEDS[0], "url": f"http://127.0.0.1:{feed_port}/feed.atom",
              "interval_s": 0.5},
             {"name": FEEDS[1], "url": f"http://127.0.0.1:{free_port()}/feed.atom",
              "interval_s": 0.2, "max_backoff_s": 1.0, "timeout_s": 2.0}]
    server = start_server(base / "data", env={**FAST, "TOCSIN_CHANNELS": json.dumps(failing),
                                              "TOCSIN_FEEDS": json.dumps(feeds)})
    prom = start_prometheus(base / "prom", server.port)
    try:
        # two scrapes of the zero-initialised series before any traffic, so rate()
        # and increase() see every change from zero
        prom.wait_for('count_over_time(up{job="tocsin"}[1m]) >= 2')
        asyncio.run(drive(server))
        prom.wait_for('tocsin_deliveries_total{channel="webhook", outcome="expired"} > 0')
        prom.wait_for('count_over_time(tocsin_deliveries_total{channel="webhook", '
                      'outcome="expired"}[1m]) >= 3')
        yield server, prom
    finally:
        prom.proc.send_signal(signal.SIGTERM)
        prom.proc.wait(timeout=30)
        server.stop(signal.SIGKILL)
        feed_server.send_signal(signal.SIGKILL)
        feed_server.wait(timeout=10)


def test_promtool_accepts_rules_and_config() -> None:
    for command in (["check", "rules", str(RULES)],
                    ["check", "config", str(REPO / "config" / "prometheus" / "prometheus.yml")]):
        result = subprocess.run([program("promtool"), *command], capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    """``rules_test.yml``: each alert fires on the series it is about and not on others
    (the backlog alert against its latency goal, across two nodes on one store)."""
    result = subprocess.run([program("promtool"), "test", "rules", str(RULE_TESTS)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_json_is_generated_from_code() -> None:
    from router.observability.dashboard import render  # noqa: PLC0415

    assert DASHBOARD.read_text(encoding="utf-8") == render(), \
        "run: .venv/bin/python -m router.observability.dashboard"


def test_dashboard_charts_the_store_backlog_against_the_rules_goal() -> None:
    from router.observability.dashboard import BACKLOG_GOAL_S, dashboard  # noqa: PLC0415

    exprs = expressions(dashboard())
    assert any("tocsin_store_deliveries" in expr for expr in exprs)
    assert any("tocsin_store_oldest_pending_age_seconds" in expr for expr in exprs)
    rule = next(r for g in rule_groups() for r in g["rules"]
                if r.get("alert") == "TocsinDeliveryBacklogOld")
    assert rule["expr"].endswith(f"> {BACKLOG_GOAL_S}"), rule["expr"]


def test_dashboard_charts_feed_silence_as_the_rule_measures_it() -> None:
    from router.observability.dashboard import (  # noqa: PLC0415
        SILENT_EXPR,
        SILENT_INTERVALS,
        dashboard,
    )

    assert any(SILENT_EXPR in expr for expr in expressions(dashboard()))
    rules = {r.get("record") or r.get("alert"): r for g in rule_groups() for r in g["rules"]}
    assert rules["tocsin:feed_silent_intervals"]["expr"] == SILENT_EXPR
    assert rules["TocsinFeedSilent"]["expr"] == \
        f"tocsin:feed_silent_intervals > {SILENT_INTERVALS}"


def as_promql(expr: str) -> str:
    """Grafana's macros and variables as Prometheus understands them."""
    expr = expr.replace("$__rate_interval", "1m").replace("$channel", "webhook|file")
    return re.sub(r"label_values\((\w+),\s*(\w+)\)", r"group by (\2) (\1)", expr)


def test_every_dashboard_expression_returns_data(stack: tuple[Server, Prometheus]) -> None:
    _server, prom = stack
    exprs = expressions(json.loads(DASHBOARD.read_text(encoding="utf-8")))
    assert len(exprs) >= 20
    empty = [expr for expr in exprs if not prom.query(as_promql(expr))]
    assert not empty, empty


def test_driven_traffic_shows_in_the_series(stack: tuple[Server, Prometheus]) -> None:
    _server, prom = stack

    def value(expr: str) -> float:
        result = prom.query(expr)
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])

    assert value('tocsin_channel_breaker_state{channel="webhook"}') == 2
    assert value('tocsin_alerts_rejected_total{reason="invalid_input", status="422"}') == 30
    assert value('tocsin_alerts_rejected_total{reason="unauthorised", status="401"}') == 3
    assert value("tocsin_alerts_duplicate_total") == 1
    assert value('tocsin_deliveries_total{channel="file", outcome="delivered"}') >= 1
    assert value('tocsin_deliveries_total{channel="webhook", outcome="delivered"}') >= 1
    assert value('tocsin_delivery_errors_total{channel="cell_broadcast", '
                 'reason="configuration"}') >= 1
    assert value('tocsin_fallback_activations_total{channel="cell_broadcast"}') >= 1
    assert value('tocsin_delivery_retries_total{channel="webhook"}') >= 1
    assert value('tocsin_delivery_accepted_to_confirmed_seconds_count{channel="webhook"}') >= 1


# -- the exposition itself ---------------------------------------------------------------

DEMO_CHANNELS = {"file", "webhook", "cell_broadcast", "sms", "eudi_wallet", "galileo_ewss"}
"""Demo mode's instances and every channel config/routes.yaml names."""
REASONS = {"timeout", "unavailable", "overloaded", "rejected", "invalid_input", "unauthorised",
           "conflict", "expired", "cancelled", "configuration", "storage", "internal",
           "too_long", "not_applicable", "identifier_pool_exhausted", "scope"}


def _route_ids(routes: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in routes} | {i for r in routes for i in _route_ids(r.get("routes", []))}


ROUTE_IDS = _route_ids(yaml.safe_load((REPO / "config" / "routes.yaml").read_text())["routes"])
"""Every route id in config/routes.yaml (the bounded set the route label may take)."""
BOUNDED = {
    "channel": DEMO_CHANNELS | {"other"},
    "route": ROUTE_IDS | {"default", "references", "other"},
    "outcome": {"delivered", "transient", "permanent", "expired", "not_applicable", "not_sent",
                "failed", "skipped", "cancelled", "superseded", "accepted", "duplicate",
                "rejected", "sent", "other"},
    "reason": REASONS,
    "profile": {"cap12", "eu-alert", "nl-alert", "ipaws-1.0", "other"},
    "msg_type": {"Alert", "Update", "Cancel", "Ack", "Error", "other"},
    "status": {"400", "401", "403", "408", "409", "413", "415", "422", "500", "503"},
    "state": {"pending", "waiting_for_channel", "sending", "standby"},
    # demo mode polls its mock feed server (channels.mock.demo); the stack two more
    "feed": {"demo-feed", *FEEDS},
    "what": {"fetches", "not_modified", "new", "duplicate", "rejected", "filtered"},
    "code": {"feed.unreachable", "feed.timeout"},
}


def scrape(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_fresh_process_exposes_every_expected_series_at_zero(server: Server) -> None:
    samples = scrape(server)

    def at_zero(name: str, **labels: str) -> None:
        key = (name, frozenset(labels.items()))
        assert key in samples, f"missing {name}{labels}"
        assert samples[key] == 0, f"{name}{labels} = {samples[key]}"

    for channel in DEMO_CHANNELS:
        for reason in REASONS:
            at_zero("tocsin_delivery_errors_total", channel=channel, reason=reason)
        for outcome in ("delivered", "transient", "permanent", "expired", "not_applicable",
                        "not_sent"):
            at_zero("tocsin_delivery_attempts_total", channel=channel, outcome=outcome)
        for outcome in ("delivered", "failed", "expired", "skipped", "cancelled", "superseded"):
            at_zero("tocsin_deliveries_total", channel=channel, outcome=outcome)
        for outcome in ("sent", "delivered", "failed", "expired"):
            at_zero("tocsin_sms_recipients_total", channel=channel, outcome=outcome)
        for name in ("tocsin_delivery_retries_total", "tocsin_fallback_activations_total",
                     "tocsin_deliveries_in_flight", "tocsin_deliveries_queued",
                     "tocsin_channel_breaker_state", "tocsin_cbs_pages_total",
                     "tocsin_ewss_messages_total", "tocsin_wallet_pushes_total",
                     "tocsin_delivery_accepted_to_confirmed_seconds_count",
                     "tocsin_delivery_accepted_to_handoff_seconds_count",
                     "tocsin_delivery_sent_to_confirmed_seconds_count",
                     "tocsin_delivery_send_duration_seconds_count",
                     "tocsin_store_oldest_pending_age_seconds"):
            at_zero(name, channel=channel)
        for state in ("pending", "waiting_for_channel", "sending", "standby"):
            at_zero("tocsin_store_deliveries", channel=channel, state=state)
    for profile in ("cap12", "eu-alert", "nl-alert", "ipaws-1.0"):
        for msg_type in ("Alert", "Update", "Cancel", "Ack", "Error"):
            at_zero("tocsin_alerts_accepted_total", profile=profile, msg_type=msg_type)
    at_zero("tocsin_alerts_rejected_total", reason="invalid_input", status="422")
    at_zero("tocsin_alerts_rejected_total", reason="unauthorised", status="401")
    at_zero("tocsin_alerts_received_total")
    at_zero("tocsin_speech_backlog")  # alerts waiting for speech, from the store
    at_zero("tocsin_speech_oldest_pending_age_seconds")
    at_zero("tocsin_deliveries_planned_total", route="life-threatening", channel="galileo_ewss")
    at_zero("tocsin_ingest_duration_seconds_count", outcome="accepted")


def test_no_label_value_outside_the_bounded_sets(stack: tuple[Server, Prometheus]) -> None:
    """After the driven traffic (with its 401s, 422s, failures and fallbacks)."""
    server, _prom = stack
    samples = scrape(server)
    assert len(samples) > 500
    for name, labels in samples:
        for label, value in labels:
            if label in BOUNDED:
                assert value in BOUNDED[label], (name, label, value)
            else:
                assert label in {"le"} or not name.startswith("tocsin_"), (name, label)


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return groups


def operands(expr: str) -> list[str]:
    """The measured vectors of an alert: ``a > 0 and b == 0`` -> ``a``, ``b``. The rules
    are written in this shape so that each measure can be shown to have data."""
    parts = re.split(r"\s+(?:and|unless|or)\s+", expr)
    measures = [COMPARISON.sub("", part) for part in parts]
    assert all(m != p for m, p in zip(measures, parts, strict=True)), \
        f"alert expression not in '<measure> <op> <threshold> [and ...]' form: {expr}"
    return measures


def test_every_rule_expression_returns_data_and_alerts_fire(
        stack: tuple[Server, Prometheus]) -> None:
    server, prom = stack
    rules = [rule for group in rule_groups() for rule in group["rules"]]
    records = [rule for rule in rules if "record" in rule]
    alerts = [rule for rule in rules if "alert" in rule]
    assert records
    assert alerts
    for rule in records:
        assert prom.query(rule["expr"]), rule["expr"]
        prom.wait_for(rule["record"], timeout=30)
    for rule in alerts:
        prom.query(rule["expr"])  # evaluates (it may be empty: not firing)
        for measure in operands(rule["expr"]):
            assert prom.query(measure), (rule["alert"], measure)
    health = prom.api("/api/v1/rules")["data"]["groups"]
    assert all(r["health"] == "ok" for g in health for r in g["rules"]), health
    assert active_alerts(prom, DRIVEN_ALERTS) >= DRIVEN_ALERTS
    # and the last one: Tocsin stops answering scrapes
    server.stop(signal.SIGKILL)
    assert "TocsinDown" in active_alerts(prom, {"TocsinDown"})


def active_alerts(prom: Prometheus, wanted: set[str], timeout: float = 60) -> set[str]:
    """Names of pending or firing alerts, polled (bounded) until ``wanted`` are among them."""
    deadline = time.monotonic() + timeout
    active: set[str] = set()
    while time.monotonic() < deadline and not wanted <= active:
        time.sleep(0.5)
        alerts = prom.api("/api/v1/alerts")["data"]["alerts"]
        active = {a["labels"]["alertname"] for a in alerts if a["state"] in {"pending", "firing"}}
    return active

