"""Tocsin: a public-warning message router (CAP 1.2 in, warning channels out)."""

__version__ = "0.1.0"
