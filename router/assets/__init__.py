"""The I/O half of accessible variants: the configuration files, the speech
synthesiser (``espeak-ng``) and the audio assets on disk.

Stage: between ingest and the store (above the pure ``router.render``). The
rendering itself stays pure; everything here reads or writes files or runs a
process, and only ``router.app`` and the CLI build it.
"""

from router.assets.config import AccessibilityConfigError, load_accessibility

__all__ = ["AccessibilityConfigError", "load_accessibility"]
