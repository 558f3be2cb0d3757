"""The tamper-evident audit trail's pure part: entries, their canonical form and the
hash chain (``chain``), and one named constructor per recorded act (``events``).

Stage: a leaf below the store. It imports nothing of the service, so the store can
compute each entry's hash inside the very transaction that appends it, and an
outside checker can recompute the chain from ``docs/audit.md`` alone.
"""
