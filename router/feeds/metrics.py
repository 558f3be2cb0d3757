"""Per-feed metrics, in the service's own registry (``GET /metrics``).

Stage: feeds. ``tocsin_feed_events_total{feed,what}`` counts fetches, not-modified
answers and entries new / duplicate / rejected / filtered;
``tocsin_feed_failures_total{feed,code}`` says why fetches and entries failed;
``tocsin_feed_last_success_timestamp_seconds`` lets an alert rule find a feed silent
past N intervals; ``tocsin_feed_lag_seconds`` is ``<sent>`` to ingest for new alerts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LAG_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 900, 3600, 6 * 3600, 24 * 3600)


class FeedMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter("tocsin_feed_events", "feed fetches and entries by outcome",
                              ["feed", "what"], registry=registry)
        self.rejected = Counter("tocsin_feed_failures", "failed fetches and refused entries",
                                ["feed", "code"], registry=registry)
        self.last_success = Gauge("tocsin_feed_last_success_timestamp_seconds",
                                  "when the feed was last fetched successfully",
                                  ["feed"], registry=registry)
        self.lag = Histogram("tocsin_feed_lag_seconds", "<sent> to ingest of new alerts",
                             ["feed"], buckets=LAG_BUCKETS, registry=registry)

    def count(self, feed: str, what: str) -> None:
        self.events.labels(feed, what).inc()
