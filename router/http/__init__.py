"""HTTP plumbing shared by the packages that serve routes: problem answers (RFC 9457),
request bodies read with a deadline, and the route-table entry the OpenAPI document is
made from.

Stage: below every package that serves HTTP (``router.ingest`` for alerts,
``router.audience`` for subscriptions), so each owns its handlers and none imports
another's. It knows nothing of alerts, stores or channels.
"""
