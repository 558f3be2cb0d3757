"""The HTTP API: handlers, middlewares, authentication, the route table and OpenAPI.

Stage: ingest, above routing and the store. Only ``router.app`` builds it.
"""

from router.ingest.auth import Authenticator
from router.ingest.context import CONTEXT, IngestContext
from router.ingest.middleware import request_context
from router.ingest.routes import ENDPOINTS, add_endpoints, add_routes, openapi_document

__all__ = [
    "CONTEXT",
    "ENDPOINTS",
    "Authenticator",
    "IngestContext",
    "add_endpoints",
    "add_routes",
    "openapi_document",
    "request_context",
]
