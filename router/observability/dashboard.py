"""The Grafana dashboard, as code: ``python -m router.observability.dashboard`` writes
``config/grafana/dashboards/tocsin.json`` (checked in; a test keeps it in step).

Stage: tooling beside the metrics it charts (imports nothing from Tocsin at run
time). Plain dictionaries in Grafana's JSON model rather than a dashboard-as-code
library: the model is stable, the panels are few, and every PromQL expression
stays greppable here and in the JSON, where the Prometheus integration test
evaluates each one against a real Prometheus.

Layout: an overview (alerts per minute, acceptance ratio, ingest and end-to-end
p50/p99, deliveries by outcome, work in flight, the store's backlog by channel and
state and the age of its oldest against the alerting rule's goal, how many alerts wait
for their spoken variants and for how long), one row per channel (repeated
over the ``channel`` variable: attempts by outcome, errors by reason, breaker,
fallback activations, latency), the channel counters (SMS fan-out progress,
cell-broadcast pages, EWSS messages, wallet pushes), and the feeds Tocsin polls
(fetches and 304s, entries new / duplicate / rejected / filtered, failures by code,
time since the last success in poll intervals against the alerting rule's threshold
and in seconds, and the lag from ``<sent>`` to ingest).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path("config/grafana/dashboards/tocsin.json")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
CH = 'channel=~"$channel"'
Panel = dict[str, Any]


def _quantile(q: float, metric: str, selector: str = "", by: str = "le") -> str:
    braces = f"{{{selector}}}" if selector else ""
    return f"histogram_quantile({q}, sum by ({by}) (rate({metric}_bucket{braces}[{RATE}])))"


def _targets(*exprs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr,
             "legendFormat": legend} for i, (expr, legend) in enumerate(exprs)]


class _Grid:
    """Places panels left to right, ``width`` of 24 columns each, wrapping rows."""

    def __init__(self) -> None:
        self.x = self.y = 0
        self.row_height = 0
        self.next_id = 1

    def place(self, panel: Panel, width: int, height: int = 7) -> Panel:
        if self.x + width > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel |= {"id": self.next_id, "gridPos": {"x": self.x, "y": self.y, "w": width,
                                                  "h": height}}
        self.next_id += 1
        self.x += width
        self.row_height = max(self.row_height, height)
        return panel

    def row(self, title: str, repeat: str | None = None) -> Panel:
        if self.x:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel: Panel = {"type": "row", "title": title, "collapsed": False, "panels": []}
        if repeat:
            panel["repeat"] = repeat
        placed = self.place(panel, 24, 1)
        self.x, self.y, self.row_height = 0, self.y + 1, 0
        return placed


def _timeseries(title: str, unit: str, *exprs: tuple[str, str], stack: bool = False,
                line_at: float | None = None) -> Panel:
    """``line_at``: a red threshold line (an alerting rule's threshold, say)."""
    custom: dict[str, Any] = {"fillOpacity": 10, "showPoints": "never"}
    defaults: dict[str, Any] = {"unit": unit, "custom": custom}
    if stack:
        custom["stacking"] = {"mode": "normal"}
    if line_at is not None:
        custom["thresholdsStyle"] = {"mode": "line"}
        defaults["thresholds"] = {"mode": "absolute", "steps": [
            {"value": None, "color": "green"}, {"value": line_at, "color": "red"}]}
    return {"type": "timeseries", "title": title, "datasource": DATASOURCE,
            "targets": _targets(*exprs),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}}}


def _stat(title: str, unit: str, expr: str, *, mappings: list[Any] | None = None,
          thresholds: list[tuple[float | None, str]] | None = None) -> Panel:
    steps = [{"value": value, "color": color}
             for value, color in (thresholds or [(None, "green")])]
    return {"type": "stat", "title": title, "datasource": DATASOURCE,
            "targets": _targets((expr, "")),
            "fieldConfig": {"defaults": {"unit": unit, "mappings": mappings or [],
                                         "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background"}}


BACKLOG_GOAL_S = 60
"""The default latency goal of ``TocsinDeliveryBacklogOld`` (config/prometheus/rules.yml)."""

SILENT_INTERVALS = 3
"""``TocsinFeedSilent``: a feed without a successful fetch for this many poll intervals."""
SILENT_EXPR = (
    "(time() - (tocsin_feed_last_success_timestamp_seconds or on (job, instance, feed) "
    "(0 * tocsin_feed_poll_interval_seconds + on (job, instance) group_left "
    "process_start_time_seconds))) / tocsin_feed_poll_interval_seconds")
"""Poll intervals since a feed's last successful fetch -- since the process started, for
a feed that has not succeeded since (it has no last success yet) -- as the recording
rule ``tocsin:feed_silent_intervals`` computes it."""

BREAKER_MAPPINGS = [{"type": "value", "options": {
    "0": {"text": "closed", "color": "green"}, "1": {"text": "half-open", "color": "orange"},
    "2": {"text": "open", "color": "red"}}}]


def _overview(grid: _Grid) -> list[Panel]:
    e2e = "tocsin_delivery_accepted_to_confirmed_seconds"
    return [
        grid.row("Overview"),
        grid.place(_timeseries(
            "Alerts per minute", "short",
            (f"sum(rate(tocsin_alerts_accepted_total[{RATE}])) * 60", "accepted"),
            (f"sum by (reason) (rate(tocsin_alerts_rejected_total[{RATE}])) * 60",
             "rejected: {{reason}}")), 8),
        grid.place(_stat(
            "Acceptance ratio (5m)", "percentunit",
            "(sum(rate(tocsin_alerts_accepted_total[5m])) + sum(rate("
            "tocsin_alerts_duplicate_total[5m]))) / sum(rate(tocsin_alerts_received_total[5m]))",
            thresholds=[(None, "red"), (0.9, "orange"), (0.99, "green")]), 4),
        grid.place(_timeseries(
            "Ingest latency", "s",
            (_quantile(0.5, "tocsin_ingest_duration_seconds", 'outcome="accepted"'), "p50"),
            (_quantile(0.99, "tocsin_ingest_duration_seconds", 'outcome="accepted"'), "p99")),
            6),
        grid.place(_timeseries(
            "End to end: accepted to confirmed", "s",
            (_quantile(0.5, e2e), "p50"), (_quantile(0.99, e2e), "p99"),
            (_quantile(0.99, "tocsin_delivery_sent_to_confirmed_seconds"),
             "p99 from CAP <sent>")), 6),
        grid.place(_timeseries(
            "Deliveries by outcome (per minute)", "short",
            (f"sum by (outcome) (rate(tocsin_deliveries_total[{RATE}])) * 60", "{{outcome}}"),
            stack=True), 8),
        grid.place(_timeseries(
            "Work in progress", "short",
            ("sum by (channel) (tocsin_deliveries_in_flight)", "in flight: {{channel}}"),
            ("sum by (channel) (tocsin_deliveries_queued)", "queued: {{channel}}")), 8),
        grid.place(_timeseries(
            "Errors by channel and reason (per minute)", "short",
            (f"sum by (channel, reason) (rate(tocsin_delivery_errors_total[{RATE}])) * 60 > 0",
             "{{channel}}: {{reason}}")), 8),
        # the store's figures: every node on one store reports the same, hence max
        grid.place(_timeseries(
            "Backlog in the store (undelivered, by channel and state)", "short",
            ("max by (channel, state) (tocsin_store_deliveries)", "{{channel}}: {{state}}"),
            stack=True), 12),
        grid.place(_timeseries(
            "Oldest undelivered: age from acceptance (alert above the line)", "s",
            ("max by (channel) (tocsin_store_oldest_pending_age_seconds)", "{{channel}}"),
            line_at=BACKLOG_GOAL_S), 12),
        # speech is made after the 202 at low priority: behind in a burst on purpose
        grid.place(_timeseries(
            "Spoken variants: alerts waiting", "short",
            ("max(tocsin_speech_backlog)", "waiting")), 12),
        grid.place(_timeseries(
            "Spoken variants: oldest waiting", "s",
            ("max(tocsin_speech_oldest_pending_age_seconds)", "oldest")), 12),
    ]


def _channel_row(grid: _Grid) -> list[Panel]:
    e2e = "tocsin_delivery_accepted_to_confirmed_seconds"
    return [
        grid.row("Channel $channel", repeat="channel"),
        grid.place(_timeseries(
            "Attempts by outcome (per minute)", "short",
            (f"sum by (outcome) (rate(tocsin_delivery_attempts_total{{{CH}}}[{RATE}])) * 60",
             "{{outcome}}"), stack=True), 6),
        grid.place(_timeseries(
            "Errors by reason (per minute)", "short",
            (f"sum by (reason) (rate(tocsin_delivery_errors_total{{{CH}}}[{RATE}])) * 60",
             "{{reason}}"),
            (f"sum(rate(tocsin_delivery_retries_total{{{CH}}}[{RATE}])) * 60", "retries")),
            6),
        grid.place(_stat("Breaker", "none",
                         f"max(tocsin_channel_breaker_state{{{CH}}})",
                         mappings=BREAKER_MAPPINGS,
                         thresholds=[(None, "green"), (1, "orange"), (2, "red")]), 3),
        grid.place(_stat("Fallbacks woken (1h)", "short",
                         f"sum(increase(tocsin_fallback_activations_total{{{CH}}}[1h]))",
                         thresholds=[(None, "green"), (1, "orange")]), 3),
        grid.place(_timeseries(
            "Latency", "s",
            (_quantile(0.5, e2e, CH), "accepted to confirmed p50"),
            (_quantile(0.99, e2e, CH), "accepted to confirmed p99"),
            (_quantile(0.99, "tocsin_delivery_send_duration_seconds", CH), "one attempt p99")),
            6),
    ]


def _channel_counters(grid: _Grid) -> list[Panel]:
    return [
        grid.row("SMS fan-out and channel counters"),
        grid.place(_timeseries(
            "SMS recipients by outcome (cumulative)", "short",
            ("sum by (outcome) (tocsin_sms_recipients_total)", "{{outcome}}")), 8),
        grid.place(_stat(
            "SMS delivered / sent", "percentunit",
            'sum(tocsin_sms_recipients_total{outcome="delivered"}) / '
            'sum(tocsin_sms_recipients_total{outcome="sent"})',
            thresholds=[(None, "orange"), (0.95, "green")]), 4),
        grid.place(_timeseries(
            "Channel units per minute", "short",
            (f"sum(rate(tocsin_cbs_pages_total[{RATE}])) * 60", "cell broadcast pages"),
            (f"sum(rate(tocsin_ewss_messages_total[{RATE}])) * 60", "EWSS messages"),
            (f"sum(rate(tocsin_wallet_pushes_total[{RATE}])) * 60", "wallet pushes"),
            (f'sum(rate(tocsin_sms_recipients_total{{outcome="sent"}}[{RATE}])) * 60',
             "SMS recipients sent")), 12),
    ]


def _feed_row(grid: _Grid) -> list[Panel]:
    events = "tocsin_feed_events_total"
    return [
        grid.row("Feeds"),
        grid.place(_timeseries(
            "Feed fetches per minute", "short",
            (f'sum by (feed) (rate({events}{{what="fetches"}}[{RATE}])) * 60',
             "fetched: {{feed}}"),
            (f'sum by (feed) (rate({events}{{what="not_modified"}}[{RATE}])) * 60',
             "not modified: {{feed}}")), 8),
        grid.place(_timeseries(
            "Feed entries per minute", "short",
            (f'sum by (feed, what) (rate({events}{{what=~"new|duplicate|rejected|filtered"}}'
             f"[{RATE}])) * 60", "{{feed}}: {{what}}"), stack=True), 8),
        grid.place(_timeseries(
            "Feed failures per minute (fetches and entries)", "short",
            (f"sum by (feed, code) (rate(tocsin_feed_failures_total[{RATE}])) * 60",
             "{{feed}}: {{code}}")), 8),
        grid.place(_timeseries(
            "Since the last successful fetch, in poll intervals (alert above the line)",
            "short",
            (f"max by (feed) ({SILENT_EXPR})", "{{feed}}"),
            line_at=SILENT_INTERVALS), 8),
        grid.place(_timeseries(
            "Since the last successful fetch", "s",
            ("time() - max by (feed) (tocsin_feed_last_success_timestamp_seconds)",
             "{{feed}}")), 8),
        grid.place(_timeseries(
            "Lag from <sent> to ingest", "s",
            (_quantile(0.5, "tocsin_feed_lag_seconds", by="le, feed"), "p50 {{feed}}"),
            (_quantile(0.99, "tocsin_feed_lag_seconds", by="le, feed"), "p99 {{feed}}")), 8),
    ]


def _variables() -> dict[str, Any]:
    return {"list": [
        {"name": "datasource", "label": "Prometheus", "type": "datasource",
         "query": "prometheus", "current": {"text": "Prometheus", "value": "prometheus"}},
        {"name": "channel", "label": "Channel", "type": "query", "datasource": DATASOURCE,
         "query": {"query": "label_values(tocsin_deliveries_total, channel)",
                   "refId": "channels"},
         "definition": "label_values(tocsin_deliveries_total, channel)",
         "refresh": 2, "multi": True, "includeAll": True, "sort": 1,
         "current": {"text": "All", "value": "$__all"}},
    ]}


def dashboard() -> dict[str, Any]:
    grid = _Grid()
    panels = [*_overview(grid), *_channel_row(grid), *_channel_counters(grid),
              *_feed_row(grid)]
    return {"uid": "tocsin-overview", "title": "Tocsin delivery", "tags": ["tocsin"],
            "timezone": "utc", "schemaVersion": 39, "version": 1, "editable": True,
            "refresh": "10s", "time": {"from": "now-1h", "to": "now"},
            "templating": _variables(), "annotations": {"list": []}, "panels": panels}


def expressions(model: dict[str, Any]) -> list[str]:
    """Every PromQL expression in a dashboard model (panel targets and variables)."""
    found = [target["expr"] for panel in model["panels"]
             for target in panel.get("targets", [])]
    found += [variable["definition"] for variable in model["templating"]["list"]
              if variable["type"] == "query"]
    return found


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")
