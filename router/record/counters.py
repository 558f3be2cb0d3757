"""Channel counters from a receipt: ``Receipt.detail["metrics"]`` -> numbers to add.

Stage: record. Adapters may not import the metrics module (they depend on the
public contract only), so they report what only they can count (cell broadcast
pages, SMS recipients, EWSS messages, wallet pushes) in the receipt, under the
closed set of names in ``router.observability.metrics.CHANNEL_COUNTERS``.
Unknown names, non-numbers, booleans, negatives and non-finite numbers are
ignored: a buggy adapter cannot add a series or make a counter go down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from router.observability.metrics import CHANNEL_COUNTERS


def channel_counters(detail: object) -> dict[str, float]:
    if not isinstance(detail, Mapping):
        return {}
    reported = detail.get("metrics")
    if not isinstance(reported, Mapping):
        return {}
    counters: dict[str, float] = {}
    for name in CHANNEL_COUNTERS:
        value = reported.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value) and value > 0:
            counters[name] = float(value)
    return counters
