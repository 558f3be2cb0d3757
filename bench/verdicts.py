"""One machine-readable line per benchmark target, so that figures can be collected.

Every bench prints, after its human-readable table, one JSON line per target:
``{"bench": NAME, "metric": ..., "value": ..., "target": ..., "pass": true|false}``.
``make bench`` gathers these lines into one table. The targets themselves are
ratios or limits measured in the same run (never timed assertions in tests).
"""

from __future__ import annotations

import json


def verdict(bench: str, metric: str, value: float, target: str, passed: bool) -> None:
    """Print the machine-readable verdict of one target (``target`` says e.g. ">= 0.20")."""
    print(json.dumps({"bench": bench, "metric": metric, "value": round(value, 6),
                      "target": target, "pass": bool(passed)}), flush=True)
