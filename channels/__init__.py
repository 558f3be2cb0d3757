"""Channel adapters (one package per channel) and the mock network elements.

Adapters import only the public contract (``router.channel``, ``router.models``,
``router.errors``); an import-linter contract keeps it so.
"""
