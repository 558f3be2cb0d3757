"""Every Prometheus metric Tocsin exports: the one place they are defined.

Stage: a leaf (imports prometheus-client and the closed ``FailureReason`` enum only).
The record stage (``router.record``) updates the series; ``GET /metrics`` exposes
them. Nothing else touches prometheus-client.

Labels are bounded, never an alert id, a phone number or free text:

==========  ==============================================================
label       values
==========  ==========================================================
channel     channel instance names from the configuration (and the routes)
route       route ids from the routing configuration, and ``default``
outcome     the closed tuples below
reason      ``router.errors.FailureReason`` values
profile     loaded validation profiles
msg_type    CAP ``msgType`` (Alert, Update, Cancel, Ack, Error)
status      the HTTP status of a rejection
==========  ==========================================================

A value outside its set is reported as ``other`` (a channel named by a delivery
stored under an older configuration, say), so no input can grow the series count.
Every expected series exists at zero from start-up: ``rate()`` and alerting rules
see a channel that has never failed as 0, not as "no data".

Each ``Metrics`` owns its registry, so several apps (tests) live in one process.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from router.errors import FailureReason

OTHER = "other"
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
ATTEMPT_OUTCOMES = ("delivered", "transient", "permanent", "expired", "not_applicable",
                    "not_sent")
"""What one attempt came to (``not_sent``: the breaker was open, nothing was handed over
and the delivery waits for the channel; that is counted here but stored as no attempt)."""
DELIVERY_OUTCOMES = ("delivered", "failed", "expired", "skipped", "cancelled", "superseded")
"""The final states of a delivery."""
INGEST_OUTCOMES = ("accepted", "duplicate", "rejected")
SMS_OUTCOMES = ("sent", "delivered", "failed", "expired")
BACKLOG_STATES = ("pending", "waiting_for_channel", "sending", "standby")
"""The states a delivery has not ended in (``router.store.backlog``): the store's backlog
gauges carry one series per channel and state."""
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
REJECTIONS: dict[int, FailureReason] = {
    400: FailureReason.INVALID_INPUT,
    401: FailureReason.UNAUTHORISED,
    403: FailureReason.UNAUTHORISED,
    408: FailureReason.INVALID_INPUT,  # the body did not arrive in time (slow or broken)
    409: FailureReason.CONFLICT,
    413: FailureReason.INVALID_INPUT,
    415: FailureReason.INVALID_INPUT,
    422: FailureReason.INVALID_INPUT,
    500: FailureReason.INTERNAL,
    503: FailureReason.STORAGE,
}
"""HTTP status of a rejected ``POST /api/v1/alerts`` -> its reason label."""
CHANNEL_COUNTERS = ("cbs_pages", "sms_recipients_sent", "sms_recipients_delivered",
                    "sms_recipients_failed", "sms_recipients_expired", "ewss_messages",
                    "wallet_pushes")
"""The names a channel may report in ``Receipt.detail["metrics"]`` (see ``router.channel``)."""

FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Ingest and one channel call: milliseconds matter."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                   60.0, 120.0, 300.0, 600.0, 1800.0)
"""End to end: from milliseconds (a webhook) to many minutes (retries during an outage)."""


def _bounded(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else OTHER


class Metrics:
    """The service's series; ``channels``, ``profiles`` and ``routes`` are the bounded
    label sets (from configuration) and the series initialised at zero."""

    def __init__(self, channels: Iterable[str] = (), profiles: Iterable[str] = (),
                 routes: Iterable[tuple[str, str]] = (), *, process: bool = True) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created twins
        self.registry = CollectorRegistry(auto_describe=True)
        if process:
            ProcessCollector(registry=self.registry)
        self.channels = frozenset(channels)
        self.profiles = frozenset(profiles)
        self.route_pairs = frozenset(routes)
        self.routes = frozenset(route for route, _channel in self.route_pairs)
        self._define_ingest()
        self._define_delivery()
        self._define_channel_counters()
        self._initialise()

    # -- definitions ------------------------------------------------------------------

    def _define_ingest(self) -> None:
        r = self.registry
        self.alerts_received = Counter(
            "tocsin_alerts_received", "POST /api/v1/alerts requests", registry=r)
        self.alerts_accepted = Counter(
            "tocsin_alerts_accepted", "Alerts stored durably with their plan (202)",
            ["profile", "msg_type"], registry=r)
        self.alerts_duplicate = Counter(
            "tocsin_alerts_duplicate", "Identical alerts posted again (200, nothing stored)",
            registry=r)
        self.alerts_rejected = Counter(
            "tocsin_alerts_rejected", "Alerts refused, by reason and HTTP status",
            ["reason", "status"], registry=r)
        self.ingest_duration = Histogram(
            "tocsin_ingest_duration_seconds", "POST /api/v1/alerts handling time",
            ["outcome"], buckets=FAST_BUCKETS, registry=r)
        self.deliveries_planned = Counter(
            "tocsin_deliveries_planned", "Deliveries planned at acceptance, by route",
            ["route", "channel"], registry=r)

    def _define_delivery(self) -> None:
        r = self.registry
        self.attempts = Counter(
            "tocsin_delivery_attempts", "Delivery attempts, by what they came to",
            ["channel", "outcome"], registry=r)
        self.retries = Counter(
            "tocsin_delivery_retries", "Attempts that failed transiently and were rescheduled",
            ["channel"], registry=r)
        self.errors = Counter(
            "tocsin_delivery_errors", "Failed attempts (transient or permanent), by reason",
            ["channel", "reason"], registry=r)
        self.deliveries = Counter(
            "tocsin_deliveries", "Deliveries that reached a final state",
            ["channel", "outcome"], registry=r)
        self.in_flight = Gauge(
            "tocsin_deliveries_in_flight", "Deliveries being handed to the channel now",
            ["channel"], registry=r)
        self.queued = Gauge(
            "tocsin_deliveries_queued",
            "Claimed deliveries waiting for a per-channel concurrency slot",
            ["channel"], registry=r)
        self.store_deliveries = Gauge(
            "tocsin_store_deliveries",
            "Deliveries in the store that have not ended, by state (the whole store's "
            "backlog, every node's; refreshed periodically, not per scrape)",
            ["channel", "state"], registry=r)
        self.store_oldest_pending_age = Gauge(
            "tocsin_store_oldest_pending_age_seconds",
            "Age, from the alert's acceptance, of the oldest pending, waiting or sending "
            "delivery in the store; 0 when none", ["channel"], registry=r)
        self.speech_backlog = Gauge(
            "tocsin_speech_backlog",
            "Accepted alerts waiting for their spoken variants (the whole store's; "
            "refreshed periodically, not per scrape)", registry=r)
        self.speech_oldest_pending_age = Gauge(
            "tocsin_speech_oldest_pending_age_seconds",
            "Age, from its acceptance, of the oldest alert waiting for speech; 0 when none",
            registry=r)
        self.breaker_state = Gauge(
            "tocsin_channel_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open",
            ["channel"], registry=r)
        self.fallback_activations = Counter(
            "tocsin_fallback_activations", "Standby fallbacks woken because this channel "
            "failed or its breaker was open", ["channel"], registry=r)
        self.send_duration = Histogram(
            "tocsin_delivery_send_duration_seconds", "One attempt, claim to answer",
            ["channel"], buckets=FAST_BUCKETS, registry=r)
        self.sent_to_confirmed = Histogram(
            "tocsin_delivery_sent_to_confirmed_seconds",
            "From the CAP <sent> time to the channel's confirmation",
            ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self.accepted_to_handoff = Histogram(
            "tocsin_delivery_accepted_to_handoff_seconds",
            "From acceptance (202) to the start of the attempt that delivered",
            ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self.accepted_to_confirmed = Histogram(
            "tocsin_delivery_accepted_to_confirmed_seconds",
            "From acceptance (202) to the channel's confirmation",
            ["channel"], buckets=LATENCY_BUCKETS, registry=r)

    def _define_channel_counters(self) -> None:
        r = self.registry
        self.cbs_pages = Counter("tocsin_cbs_pages", "Cell broadcast pages submitted",
                                 ["channel"], registry=r)
        self.sms_recipients = Counter(
            "tocsin_sms_recipients", "SMS recipients by fan-out outcome",
            ["channel", "outcome"], registry=r)
        self.ewss_messages = Counter("tocsin_ewss_messages", "Galileo EWSS messages uplinked",
                                     ["channel"], registry=r)
        self.wallet_pushes = Counter("tocsin_wallet_pushes", "EUDI wallet pushes sent",
                                     ["channel"], registry=r)

    def _initialise(self) -> None:
        """Touch every expected series so it is exported at zero from start-up."""
        for profile in self.profiles:
            for msg_type in MSG_TYPES:
                self.alerts_accepted.labels(profile, msg_type)
        for status, reason in REJECTIONS.items():
            self.alerts_rejected.labels(reason.value, str(status))
        for outcome in INGEST_OUTCOMES:
            self.ingest_duration.labels(outcome)
        for route, channel in self.route_pairs:
            self.deliveries_planned.labels(route, channel)
        for channel in self.channels:
            self._initialise_channel(channel)

    def _initialise_channel(self, channel: str) -> None:
        for outcome in ATTEMPT_OUTCOMES:
            self.attempts.labels(channel, outcome)
        for reason in FailureReason:
            self.errors.labels(channel, reason.value)
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(channel, outcome)
        for outcome in SMS_OUTCOMES:
            self.sms_recipients.labels(channel, outcome)
        for state in BACKLOG_STATES:
            self.store_deliveries.labels(channel, state)
        for metric in (self.retries, self.in_flight, self.queued, self.breaker_state,
                       self.store_oldest_pending_age,
                       self.fallback_activations, self.send_duration, self.sent_to_confirmed,
                       self.accepted_to_handoff, self.accepted_to_confirmed, self.cbs_pages,
                       self.ewss_messages, self.wallet_pushes):
            metric.labels(channel)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition format and its content type, for ``GET /metrics``."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # -- bounded label values ---------------------------------------------------------

    def channel(self, name: str) -> str:
        return _bounded(name, self.channels)

    def profile(self, name: str) -> str:
        return _bounded(name, self.profiles)

    def route(self, name: str) -> str:
        return _bounded(name, self.routes)

    @staticmethod
    def reason(value: str | None) -> str:
        """A stored reason string as its label; anything unknown counts as ``internal``."""
        try:
            return FailureReason(value or FailureReason.INTERNAL).value
        except ValueError:
            return FailureReason.INTERNAL.value

    @staticmethod
    def msg_type(value: str) -> str:
        return value if value in MSG_TYPES else OTHER

    @staticmethod
    def outcome(value: str) -> str:
        """The dispatcher's attempt outcome (``not-applicable``) as a label (``not_applicable``)."""
        label = value.replace("-", "_")
        return label if label in ATTEMPT_OUTCOMES else OTHER
