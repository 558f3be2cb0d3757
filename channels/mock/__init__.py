"""Sandbox network elements: runnable stand-ins for networks nobody can install here.

Each mock answers like the real element, records what it received (readable
over HTTP under ``/_mock/``), recognises repeated idempotency keys, and can be
told to fail, slow down or drop (``PUT /_mock/faults``). ``tocsin mock-channels``
runs them; ``tocsin serve --demo`` runs them in its own process.
"""
