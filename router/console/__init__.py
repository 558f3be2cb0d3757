"""The operator console: pages served at ``/console/`` that drive the alert API.

Stage: above ingest, below the composition root. The console is a *client* of the HTTP
API: every act it takes is a real HTTP request to this same service, carrying the
signed-in principal's API key, so authentication, validation, authority policy, four-eyes
approval and the audit trail apply exactly as they do to any other client. It holds no
alert state of its own.
"""

from router.console.basemap import add_base_map
from router.console.routes import add_console_routes

__all__ = ["add_base_map", "add_console_routes"]
