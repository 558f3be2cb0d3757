"""Per-feed metrics, in the service's own registry (``GET /metrics``).

Stage: feeds. ``tocsin_feed_events_total{feed,what}`` counts fetches, not-modified
answers and entries new / duplicate / rejected / filtered;
``tocsin_feed_failures_total{feed,code}`` says why fetches and entries failed;
``tocsin_feed_last_success_timestamp_seconds`` over ``tocsin_feed_poll_interval_seconds``
lets an alert rule find a feed silent past N intervals (``TocsinFeedSilent``);
``tocsin_feed_lag_seconds`` is ``<sent>`` to ingest for new alerts. ``register`` sets a
feed's interval and its entry counters and lag at zero, so rates and the dashboard
have a series before the first entry arrives.
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

        self.interval = Gauge("tocsin_feed_poll_interval_seconds",
                              "the configured poll interval (backing off on errors: longer)",
                              ["feed"], registry=registry)

    def register(self, feed: str, interval_s: float) -> None:
        self.interval.labels(feed).set(interval_s)
        for what in ("fetches", "not_modified", "new", "duplicate", "rejected", "filtered"):
            self.events.labels(feed, what)
        self.lag.labels(feed)

    def count(self, feed: str, what: str) -> None:
        self.events.labels(feed, what).inc()
