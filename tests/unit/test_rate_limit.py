"""The token bucket both throttles share (``router.ingest.rate_limit``), on a fake clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from router.ingest.rate_limit import RateLimiter, retry_after
from router.ingest.throttle import client_key
from router.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@settings(max_examples=200, deadline=None)
@given(per_s=st.floats(0.01, 100), burst=st.integers(1, 100),
       gaps=st.lists(st.floats(0, 5), min_size=1, max_size=300))
def test_no_interval_lets_more_through_than_burst_plus_refill(
        per_s: float, burst: int, gaps: list[float]) -> None:
    clock = Clock()
    limiter = RateLimiter(per_s, burst, clock=clock)
    passed: list[float] = []
    for gap in gaps:
        clock.now += gap
        if limiter.wait_s("k") == 0.0:
            passed.append(clock.now)
    for i, start in enumerate(passed):  # every window [start, end] of passed requests
        for j in range(i, len(passed)):
            assert j - i + 1 <= burst + per_s * (passed[j] - start) + 1e-6


@given(per_s=st.floats(0.01, 100), burst=st.integers(1, 50))
def test_a_refused_caller_that_waits_as_told_gets_through(per_s: float, burst: int) -> None:
    clock = Clock()
    limiter = RateLimiter(per_s, burst, clock=clock)
    for _ in range(burst):
        assert limiter.wait_s("k") == 0.0
    wait = limiter.wait_s("k")
    assert wait > 0
    clock.now += wait + 1e-9
    assert limiter.wait_s("k") == 0.0


def test_keys_have_their_own_buckets_and_memory_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 2, max_keys=100, clock=clock)
    assert [limiter.wait_s("a") for _ in range(3)][:2] == [0.0, 0.0]
    assert limiter.wait_s("a") > 0
    assert limiter.wait_s("b") == 0.0
    for n in range(1000):
        limiter.wait_s(f"k{n}")
    assert len(limiter) == 100


def test_zero_rate_is_off_and_retry_after_is_whole_seconds() -> None:
    limiter = RateLimiter(0, 1)
    assert all(limiter.wait_s("k") == 0.0 for _ in range(10_000))
    assert [retry_after(w) for w in (0.01, 1.0, 1.2, 59.5)] == ["1", "1", "2", "60"]


def test_the_default_write_limit_passes_an_authority_in_a_storm() -> None:
    """A storm: 400 alerts as fast as they can be sent, then one every 0.2 s for five
    minutes (1,500 more), all with one key: none is refused by the defaults."""
    limit = Settings().write_rate_limit
    clock = Clock()
    limiter = RateLimiter(limit.per_s, limit.burst, clock=clock)
    refused = sum(limiter.wait_s("authority") > 0 for _ in range(400))
    for _ in range(1500):
        clock.now += 0.2
        refused += limiter.wait_s("authority") > 0
    assert refused == 0


def test_clients_are_counted_by_address_and_ipv6_by_its_64() -> None:
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key(None) == "unknown"
