"""Feed ingest: take in other authorities' CAP feeds (Atom 1.0, RSS 2.0, a single CAP
document at a URL) and hand each CAP document to the same path a ``POST`` takes
(``router.ingest.handlers.submit_document``).

Stage: feeds, above ingest and below the composition root (``router.app`` adds the
pollers and ``GET /api/v1/feeds`` with ``add_feed_routes``).
"""

from router.feeds.routes import add_feed_routes

__all__ = ["add_feed_routes"]
