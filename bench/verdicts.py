"""One machine-readable line per benchmark target, so that figures can be collected.

Every bench prints, after its human-readable table, one JSON line per target:
``{"bench": NAME, "metric": ..., "value": ..., "target": ..., "pass": true|false}``.
``make bench`` gathers these lines into one table (``bench/collect.py``). The
targets themselves are ratios or limits measured in the same run (never timed
assertions in tests). A figure a bench reports without a target (informational,
e.g. a cost that no issue sets a limit for) is printed by ``figure`` with
``target`` and ``pass`` null, so it is collected but never counted as a pass.
"""

from __future__ import annotations

import json


def verdict(bench: str, metric: str, value: float, target: str, passed: bool) -> None:
    """Print the machine-readable verdict of one target (``target`` says e.g. ">= 0.20")."""
    print(json.dumps({"bench": bench, "metric": metric, "value": round(value, 6),
                      "target": target, "pass": bool(passed)}), flush=True)


def figure(bench: str, metric: str, value: float) -> None:
    """Print a measured figure that has no target (``target`` and ``pass`` are null)."""
    print(json.dumps({"bench": bench, "metric": metric, "value": round(value, 6),
                      "target": None, "pass": None}), flush=True)
