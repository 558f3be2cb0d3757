"""structlog set-up: the one place logging is configured.

Stage: a leaf used by the composition roots. JSON lines on stdout in production
(``log_format: json``), a readable console in development (``console``).

Context travels in contextvars: the HTTP middleware binds ``request_id``, the
ingest handler ``alert_id`` and ``authority``, the dispatcher ``alert_id``,
``channel`` and ``delivery_id`` (the delivery's idempotency key) for the task
that delivers it, so every line those steps log carries them.

Redaction is the last step before rendering, for every line whoever logs it:

- values under secret-looking keys (``api_key``, ``secret``, ``authorization``,
  ``*_token``, ``vapid_*``...) and under recipient keys (``msisdn``, ``phone``);
- every secret the service was configured with (``add_secrets``: the demo API
  key, channel secrets such as a webhook's HMAC key or a VAPID private key),
  wherever it appears inside a value;
- anything shaped like a phone number (E.164 ``+31612345678``, ``0031...``, a
  Dutch/European national ``06...``), wherever it appears inside a value;
- ``Bearer <token>`` in any value.

A channel adapter's error text is logged (it is what an operator needs), so this
is what keeps an SMS gateway's "recipient +31612345678 refused" out of the log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}
REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(^|_)(api_key|secret|password|passwd|token|authorization|private_key|vapid\w*|"
    r"credentials?|msisdn|phone(_number)?s?)$", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w.:/+-])(?:\+|00)[1-9]\d{7,14}\b|(?<![\w.:/+-])0[1-9]\d{8}\b")
_BEARER = re.compile(r"(?i)\bbearer\s+\S+")
_MIN_SECRET_LENGTH = 6
_secrets: set[str] = set()


def add_secrets(values: Iterable[str]) -> None:
    """Scrub these strings from every log line from now on (configured secrets)."""
    _secrets.update(v for v in values if len(v) >= _MIN_SECRET_LENGTH)


def secrets_in(config: Mapping[str, Any]) -> list[str]:
    """String values under secret-looking keys anywhere in a configuration mapping
    (a webhook's ``secret``, a push service's ``vapid_private_key``...)."""
    found: list[str] = []
    for key, value in config.items():
        if isinstance(value, Mapping):
            found += secrets_in(value)
        elif isinstance(value, str) and _SECRET_KEY.search(str(key)):
            found.append(value)
    return found


def redact_text(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub("Bearer " + REDACTED, text)
    return _PHONE.sub(REDACTED, text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: REDACTED if _SECRET_KEY.search(str(k)) else _redact(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_redact(item) for item in value]
    return value


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: see the module docstring."""
    for key, value in event_dict.items():
        event_dict[key] = REDACTED if _SECRET_KEY.search(key) else _redact(value)
    return event_dict


def processors() -> list[Processor]:
    """Every processor before the renderer, in order. Tests pass these to
    ``structlog.testing.capture_logs`` to see lines exactly as they are written."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    renderer: Processor = (
        structlog.processors.JSONRenderer() if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty()))
    structlog.configure(
        processors=[*processors(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
