"""Logging and (later) metrics set-up: the one place either is configured."""
